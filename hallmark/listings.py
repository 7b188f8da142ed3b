"""Listings reported by hand (the API's ``POST /v1/listings``): stored like crawled ones, then matched."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.db import Listing, ListingImage, Seller, utcnow
from hallmark.listing_matching import enqueue_listing_image

_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp"}


@dataclass(frozen=True)
class ListingReport:
    """A listing as a reviewer reports it."""

    url: str
    marketplace: str
    title: str = ""
    price: Decimal | None = None
    currency: str | None = None
    quantity: int | None = None
    seller: str | None = None
    listed_at: datetime | None = None


@dataclass(frozen=True)
class StoredPhoto:
    """A listing photo that passed the safe decoder, with the facts the database keeps."""

    url: str
    data: bytes
    sha256: str
    format: str
    width: int
    height: int


def store_photo_bytes(home: Path, photo: StoredPhoto) -> str:
    """Keeps a content-addressed copy of a listing photo; returns its path in the data directory."""
    relative = (
        Path("listing-images") / photo.sha256[:2] / (photo.sha256 + _EXTENSIONS.get(photo.format, ".img"))
    )
    target = home / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".photo-", dir=target.parent)
        with os.fdopen(handle, "wb") as stream:
            stream.write(photo.data)
        os.replace(temporary, target)
    return str(relative)


def report_listing(
    session: Session, home: Path, report: ListingReport, photo: StoredPhoto
) -> tuple[Listing, ListingImage]:
    """Stores (or refreshes) a listing and its photo, and queues the photo for matching."""
    now = utcnow()
    marketplace = report.marketplace.strip().lower()
    seller = None
    if report.seller:
        seller = session.scalar(
            select(Seller).where(Seller.marketplace == marketplace, Seller.name == report.seller)
        )
        if seller is None:
            seller = Seller(marketplace=marketplace, name=report.seller, first_seen_at=now, last_seen_at=now)
            session.add(seller)
        seller.last_seen_at = now
    listing = session.scalar(select(Listing).where(Listing.url == report.url))
    if listing is None:
        listing = Listing(url=report.url, marketplace=marketplace, first_seen_at=now, status="active")
        session.add(listing)
    listing.title = report.title
    listing.price = report.price
    listing.currency = report.currency
    listing.quantity = report.quantity
    listing.listed_at = report.listed_at
    listing.seller = seller
    listing.last_seen_at = listing.last_changed_at = now
    listing.content_hash = listing.content_hash or ""
    session.flush()
    image = session.scalar(
        select(ListingImage).where(ListingImage.listing_id == listing.id, ListingImage.url == photo.url)
    )
    if image is None:
        image = ListingImage(listing_id=listing.id, url=photo.url, first_seen_at=now)
        session.add(image)
    image.sha256 = photo.sha256
    image.stored_path = store_photo_bytes(home, photo)
    image.width, image.height = photo.width, photo.height
    image.error = None
    image.last_seen_at = now
    session.flush()
    enqueue_listing_image(session, image.id)
    return listing, image
