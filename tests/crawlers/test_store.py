"""Incremental storage: a listing seen again unchanged moves its last-seen time only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crawlers.listing import ExtractedListing
from crawlers.store import (
    Outcome,
    PhotoResult,
    content_hash,
    mark_gone,
    previously_seen,
    store_image,
    store_listing,
)
from hallmark.db import CrawlRun, Database, Listing, open_database, utcnow
from hallmark.settings import Settings
from vision.decode import DecodedImage

LISTING = ExtractedListing(
    url="https://shop.example/item/1",
    title="Red bag",
    price=20.0,
    currency="EUR",
    image="https://cdn.example/1.jpg",
    seller="bags4u",
)


@pytest.fixture
def database(tmp_path: Path) -> Database:
    return open_database(Settings(home=tmp_path / "home"))


def photo(sha: str) -> PhotoResult:
    decoded = DecodedImage(np.zeros((2, 2, 3), np.uint8), "JPEG", 2, 2, sha)
    return PhotoResult(url=str(LISTING.image), decoded=decoded, stored_path=f"x/{sha}.jpg", phash=1)


def test_the_content_hash_changes_with_what_a_buyer_sees_only() -> None:
    assert content_hash(LISTING) == content_hash(LISTING.model_copy(update={"url": "https://other/"}))
    assert content_hash(LISTING) != content_hash(LISTING.model_copy(update={"price": 19.0}))


def test_a_listing_is_new_then_unchanged_then_changed(database: Database) -> None:
    with database.session() as session:
        first = store_listing(session, "shop", LISTING, utcnow())
        assert (first.outcome, first.fetch_image) == (Outcome.NEW, LISTING.image)
        store_image(session, first.listing_id, photo("a" * 64), utcnow())
        again = store_listing(session, "shop", LISTING, utcnow())
        assert (again.outcome, again.fetch_image) == (Outcome.UNCHANGED, None)
        edited = store_listing(
            session, "shop", LISTING.model_copy(update={"title": "Red bag, AAA"}), utcnow()
        )
        assert (edited.outcome, edited.fetch_image) == (Outcome.CHANGED, None)
        listing = session.get(Listing, first.listing_id)
        assert listing is not None and listing.title == "Red bag, AAA" and listing.seller is not None


def test_the_same_photo_bytes_are_unchanged_and_new_bytes_are_changed(database: Database) -> None:
    with database.session() as session:
        stored = store_listing(session, "shop", LISTING, utcnow())
        assert store_image(session, stored.listing_id, photo("a" * 64), utcnow())[1] is Outcome.NEW
        assert store_image(session, stored.listing_id, photo("a" * 64), utcnow())[1] is Outcome.UNCHANGED
        assert store_image(session, stored.listing_id, photo("b" * 64), utcnow())[1] is Outcome.CHANGED


def test_network_failures_are_fetched_again_and_refused_photos_are_not(database: Database) -> None:
    url = str(LISTING.image)
    with database.session() as session:
        stored = store_listing(session, "shop", LISTING, utcnow())
        store_image(
            session, stored.listing_id, PhotoResult(url=url, error_kind="timeout", error="slow"), utcnow()
        )
        assert store_listing(session, "shop", LISTING, utcnow()).fetch_image == url
        refused = PhotoResult(url=url, error_kind="image_too_large", error="30000x30000")
        store_image(session, stored.listing_id, refused, utcnow())
        assert store_listing(session, "shop", LISTING, utcnow()).fetch_image is None


def test_only_listings_earlier_runs_of_the_same_job_saw_can_go(database: Database) -> None:
    with database.session() as session:
        kept = store_listing(session, "shop", LISTING, utcnow()).listing_id
        session.add_all(
            [
                CrawlRun(adapter="shop", base_url=None, query="bag", stats={"seen_listing_ids": [kept]}),
                CrawlRun(adapter="shop", base_url=None, query="shoe", stats={"seen_listing_ids": [999]}),
                CrawlRun(adapter="shop", base_url=None, query="bag", stats={}),
            ]
        )
        session.flush()
        assert previously_seen(session, "shop", None, "bag", before_run=10) == {kept}
        assert mark_gone(session, {kept}, utcnow()) == [kept]
        assert mark_gone(session, {kept}, utcnow()) == []
        assert store_listing(session, "shop", LISTING, utcnow()).outcome is Outcome.CHANGED  # back again
