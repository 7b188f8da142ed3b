"""The JavaScript storefront crawled end to end in real Chromium (scrapy-playwright, infinite scroll)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FAST_CRAWL_ENV, chromium_or_skip
from demo_market_server import DemoMarket
from hallmark_cli import REPO, HallmarkRunner
from sqlalchemy import func, select

from hallmark.db import ImageMatch, Listing, ListingImage, open_database
from hallmark.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_the_javascript_storefront_is_crawled_in_chromium_with_every_listing_and_photo(
    tmp_path: Path, model_cache: Path, demo_market: DemoMarket, market_truth: dict
) -> None:
    chromium = chromium_or_skip()
    runner = HallmarkRunner(tmp_path / "home", model_cache)
    runner.env.update(FAST_CRAWL_ENV, HALLMARK_CRAWL_CHROMIUM_PATH=chromium)
    assert runner("catalog", "import", str(REPO / "demo" / "catalog" / "catalog.csv")).returncode == 0
    demo_market.reset()

    done = runner("crawl", "run", "demo-app", "--base-url", demo_market.base_url, "--json")

    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(done.stdout.splitlines()[-1])
    stats = run["stats"]
    pages_of_cards = -(-len(market_truth) // 24)
    assert stats["complete"] is True
    # The served HTML holds no listing: every card came from scrolling the rendered page.
    assert demo_market.paths().count("/app/") == 1
    assert [path for path in demo_market.paths() if path == "/api/listings"] == [
        "/api/listings"
    ] * pages_of_cards
    assert stats["listings_new"] == len(market_truth) - 2  # robots-disallowed and 404
    assert (stats["images_new"], stats["images_failed"]) == (96, 2)
    assert stats["matches"] == 96 and stats["flagged"] >= 12
    with open_database(Settings(home=tmp_path / "home")).session() as session:
        assert session.scalar(select(func.count()).select_from(Listing)) == len(market_truth) - 2
        assert session.scalar(select(func.count()).select_from(ListingImage)) == 98
        assert session.scalar(select(func.count()).select_from(ImageMatch)) == 96
    # The browser loaded no photos itself: they came through the guarded downloader, once each.
    photos = [path for path in demo_market.paths() if path.startswith("/images/")]
    assert len(photos) == len(set(photos)) == 98
