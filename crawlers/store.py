"""Storing what a crawl saw: listings, sellers and listing photos, incrementally.

A listing is identified by its canonical URL and carries a hash of its visible fields: a re-crawl that
finds the same hash only moves ``last_seen_at``. A photo is identified by its listing and URL and
carries the SHA-256 of its bytes; a photo already stored is not downloaded again, and only a new or
changed photo is queued for matching.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.failures import TRANSIENT
from crawlers.listing import ExtractedListing
from hallmark.db import CrawlRun, Listing, ListingImage, Seller
from vision.decode import DecodedImage

ACTIVE, GONE = "active", "gone"
#: Where listing photos are kept, under the data directory, by content hash.
IMAGE_DIR = "listing-images"
_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp"}


class Outcome(StrEnum):
    """What a crawl did to one stored row."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class StoredListing:
    """A listing after it was stored, and whether its photo must be fetched."""

    listing_id: int
    outcome: Outcome
    #: The photo URL to download, or ``None`` when there is none or it is stored already.
    fetch_image: str | None


def content_hash(listing: ExtractedListing) -> str:
    """A hash of what a buyer sees of a listing; a change in any of these is a changed listing."""
    fields = listing.model_dump(mode="json", exclude={"url"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _as_datetime(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 2)))


def upsert_seller(session: Session, marketplace: str, name: str | None, now: datetime) -> Seller | None:
    """The seller ``name`` on ``marketplace``, created on first sight; ``last_seen_at`` moved to ``now``."""
    if not name:
        return None
    name = name.strip()[:300]
    seller = session.scalar(select(Seller).where(Seller.marketplace == marketplace, Seller.name == name))
    if seller is None:
        seller = Seller(marketplace=marketplace, name=name, first_seen_at=now, last_seen_at=now)
        session.add(seller)
        session.flush()
    else:
        seller.last_seen_at = now
    return seller


def _needs_fetch(image: ListingImage | None) -> bool:
    if image is None:
        return True
    if image.error is None:
        return image.sha256 is None
    # Photos the decoder refused stay refused until their URL changes; network trouble is retried.
    return image.error.split(":", 1)[0] in TRANSIENT


def store_listing(
    session: Session, marketplace: str, listing: ExtractedListing, now: datetime
) -> StoredListing:
    """Adds or updates one listing (and its seller) and says whether its photo must be fetched."""
    digest = content_hash(listing)
    row = session.scalar(select(Listing).where(Listing.url == listing.url))
    seller = upsert_seller(session, marketplace, listing.seller, now)
    if row is None:
        row = Listing(url=listing.url, marketplace=marketplace, first_seen_at=now, last_changed_at=now)
        session.add(row)
        outcome = Outcome.NEW
    elif row.content_hash != digest or row.status != ACTIVE:
        outcome = Outcome.CHANGED
        row.last_changed_at = now
    else:
        outcome = Outcome.UNCHANGED
    if outcome is not Outcome.UNCHANGED:
        row.title = listing.title or ""
        row.price = _money(listing.price)
        row.price_max = _money(listing.price_max)
        row.currency = listing.currency
        row.quantity = listing.quantity
        row.listed_at = _as_datetime(listing.listed_at)
        row.seller_id = seller.id if seller is not None else None
        row.content_hash = digest
        row.status = ACTIVE
        row.gone_at = None
    row.last_seen_at = now
    session.flush()
    fetch: str | None = None
    if listing.image:
        image = session.scalar(
            select(ListingImage).where(ListingImage.listing_id == row.id, ListingImage.url == listing.image)
        )
        if image is not None:
            image.last_seen_at = now
        if _needs_fetch(image):
            fetch = listing.image
    return StoredListing(row.id, outcome, fetch)


def save_image_bytes(home: Path, decoded: DecodedImage, data: bytes) -> str:
    """Keeps a content-addressed copy of a listing photo; returns its path relative to ``home``."""
    relative = (
        Path(IMAGE_DIR) / decoded.sha256[:2] / (decoded.sha256 + _EXTENSIONS.get(decoded.format, ".img"))
    )
    target = home / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".img-", dir=target.parent)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    return str(relative)


@dataclass(frozen=True)
class PhotoResult:
    """A listing photo after download and decoding, or why it could not be had."""

    url: str
    decoded: DecodedImage | None = None
    stored_path: str | None = None
    phash: int | None = None
    error_kind: str | None = None
    error: str | None = None


def store_image(
    session: Session, listing_id: int, result: PhotoResult, now: datetime
) -> tuple[ListingImage, Outcome | None]:
    """Records a fetched photo (or its failure) on the listing.

    Returns:
        The row, and ``NEW`` or ``CHANGED`` when its bytes are new to this listing (then it must be
        matched), ``UNCHANGED`` when they are the bytes already stored, ``None`` when it failed.
    """
    image = session.scalar(
        select(ListingImage).where(ListingImage.listing_id == listing_id, ListingImage.url == result.url)
    )
    created = image is None
    if image is None:
        image = ListingImage(listing_id=listing_id, url=result.url, first_seen_at=now)
        session.add(image)
    image.last_seen_at = now
    if result.decoded is None:
        image.error = f"{result.error_kind}: {result.error}"[:2000]
        session.flush()
        return image, None
    decoded = result.decoded
    outcome = Outcome.NEW if created or image.sha256 is None else Outcome.CHANGED
    if image.sha256 == decoded.sha256:
        outcome = Outcome.UNCHANGED
    image.sha256 = decoded.sha256
    image.width, image.height = decoded.width, decoded.height
    image.stored_path = result.stored_path
    image.phash = result.phash
    image.error = None
    session.flush()
    return image, outcome


def mark_gone(session: Session, listing_ids: Iterable[int], now: datetime) -> list[int]:
    """Marks active listings gone; returns the ids that were active until now."""
    gone: list[int] = []
    for listing in session.scalars(select(Listing).where(Listing.id.in_(list(listing_ids)))):
        if listing.status != GONE:
            listing.status = GONE
            listing.gone_at = now
            gone.append(listing.id)
    session.flush()
    return gone


def listing_ids(session: Session, urls: Collection[str]) -> set[int]:
    """The ids of the stored listings among ``urls``."""
    found: set[int] = set()
    urls = list(urls)
    for start in range(0, len(urls), 500):  # keep IN lists short for SQLite's parameter limit
        found.update(session.scalars(select(Listing.id).where(Listing.url.in_(urls[start : start + 500]))))
    return found


def previously_seen(
    session: Session, adapter: str, base_url: str | None, query: str | None, before_run: int, runs: int = 20
) -> set[int]:
    """Listings that earlier runs of the same crawl job (adapter, base URL, query) saw.

    Only these can be called gone by a complete run of that job: a listing another query found is not
    missing from this one's results.
    """
    earlier = session.scalars(
        select(CrawlRun)
        .where(
            CrawlRun.adapter == adapter,
            CrawlRun.base_url.is_(None) if base_url is None else CrawlRun.base_url == base_url,
            CrawlRun.query.is_(None) if query is None else CrawlRun.query == query,
            CrawlRun.id < before_run,
        )
        .order_by(CrawlRun.id.desc())
        .limit(runs)
    )
    seen: set[int] = set()
    for run in earlier:
        seen.update(int(value) for value in (run.stats or {}).get("seen_listing_ids", []))
    return seen
