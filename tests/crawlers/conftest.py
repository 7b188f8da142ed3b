"""Fixtures for crawler tests: demo markets on loopback, data directories for crawls."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path; this one holds a plain helper module.
sys.path.insert(0, str(Path(__file__).parent))

from demo_market_server import DemoMarket, serve_demo_market  # noqa: E402
from local_services import service_unavailable  # noqa: E402

from crawlers.demo_market.data import DEFAULT_DATA_DIR  # noqa: E402

#: Crawl settings for tests: no politeness delays against our own loopback server.
FAST_CRAWL_ENV = {
    "HALLMARK_ALLOW_PRIVATE_NETWORKS": "true",
    "HALLMARK_CRAWL_DOWNLOAD_DELAY": "0",
    "HALLMARK_CRAWL_RETRY_BASE_DELAY": "0.05",
    "HALLMARK_CRAWL_DOWNLOAD_TIMEOUT": "10",
    "HALLMARK_WORKER_POLL_SECONDS": "0.1",
}


@pytest.fixture(scope="session")
def market_truth() -> dict[str, dict]:
    """``demo/market/listings.json`` by listing id."""
    listings = json.loads((DEFAULT_DATA_DIR / "listings.json").read_text(encoding="utf-8"))["listings"]
    return {entry["id"]: entry for entry in listings}


@pytest.fixture(scope="module")
def demo_market() -> Iterator[DemoMarket]:
    """A demo market for the module, on a free loopback port, recording the paths it serves."""
    with serve_demo_market() as market:
        yield market


def chromium_or_skip() -> str:
    """The system Chromium; skips without it, but fails when ``CI=true`` (CI must run browser tests)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    service_unavailable(
        "no Chromium on this machine (/usr/bin/chromium)",
        "CI=true but no Chromium is installed; the JavaScript storefront must be tested",
    )
