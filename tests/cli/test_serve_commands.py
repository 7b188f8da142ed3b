"""``hallmark serve``: refuses a bad configuration with one line, and serves on the asked port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

HALLMARK = Path(sys.executable).parent / "hallmark"


def test_serve_refuses_an_unknown_rate_limit_storage_with_one_line(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "HALLMARK_HOME": str(tmp_path),
        "HALLMARK_RATE_LIMIT_STORAGE": "memcachedd://x",
    }
    result = subprocess.run(
        [str(HALLMARK), "serve"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        "error: HALLMARK_RATE_LIMIT_STORAGE='memcachedd://x' cannot be used"
    )


@pytest.mark.slow
def test_serve_answers_healthz_on_the_given_host_and_port(tmp_path: Path, model_cache: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "HALLMARK_HOME": str(tmp_path), "HALLMARK_MODEL_CACHE": str(model_cache)}
    server = subprocess.Popen(
        [str(HALLMARK), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-preload"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.2)
        assert answer.json() == {"status": "ok", "database": "ok"}
    finally:
        server.terminate()
        server.wait(30)
