"""Listing tables: what crawlers saw on marketplaces, and how each listing photo matched."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hallmark.db.base import Base, UTCDateTime, utcnow


class Seller(Base):
    """A seller account on one marketplace."""

    __tablename__ = "sellers"
    __table_args__ = (UniqueConstraint("marketplace", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Listing(Base):
    """A marketplace listing, identified by its canonical URL."""

    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    price_max: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    quantity: Mapped[int | None] = mapped_column(Integer)
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id", ondelete="SET NULL"), index=True)
    #: Hash of the listing's visible fields, to tell a changed listing from an unchanged one.
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    #: ``active`` while the marketplace shows it, ``gone`` once a crawl finds it removed.
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    seller: Mapped[Seller | None] = relationship()
    images: Mapped[list[ListingImage]] = relationship(
        back_populates="listing", cascade="all, delete-orphan", passive_deletes=True
    )


class ListingImage(Base):
    """A photo of a listing: where it came from, what its bytes were, how it matched."""

    __tablename__ = "listing_images"
    __table_args__ = (UniqueConstraint("listing_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    stored_path: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    phash: Mapped[int | None] = mapped_column(BigInteger)
    #: Why the image could not be fetched or decoded, if it could not.
    error: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="images")
    matches: Mapped[list[ImageMatch]] = relationship(
        back_populates="listing_image", cascade="all, delete-orphan", passive_deletes=True
    )


class ImageMatch(Base):
    """The result of checking one listing photo against the catalog at one catalog version."""

    __tablename__ = "image_matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_image_id: Mapped[int] = mapped_column(
        ForeignKey("listing_images.id", ondelete="CASCADE"), index=True
    )
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[float] = mapped_column(Float)
    #: The same JSON object ``hallmark check --json`` prints for this image.
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    catalog_version: Mapped[int] = mapped_column(BigInteger)
    model_fingerprint: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    listing_image: Mapped[ListingImage] = relationship(back_populates="matches")
