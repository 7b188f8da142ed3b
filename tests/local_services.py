"""Helpers for tests that start real local services: free loopback ports, and a missing service.

Plain module (imported by name; ``tests/conftest.py`` puts this folder on ``sys.path``).
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_unavailable(skip_reason: str, ci_reason: str) -> NoReturn:
    """Skips the test for want of a service, but fails it when ``CI=true``: CI must run every test."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(ci_reason)
    pytest.skip(skip_reason)
