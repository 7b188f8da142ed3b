"""Catalog tables: a brand's products and their reference photos with descriptors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal, get_args

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hallmark.db.base import Base, UTCDateTime, utcnow

#: Where a reference photo came from: ``catalog`` (imported or uploaded as the brand's photography)
#: or ``confirmed`` (a listing photo a reviewer confirmed as showing the product). The matcher
#: weighs evidence against the two differently: a shop photo shares shelves, hands and light with
#: other shop photos.
ReferenceOrigin = Literal["catalog", "confirmed"]
REFERENCE_ORIGINS: tuple[str, ...] = get_args(ReferenceOrigin)


class Product(Base):
    """A protected product, identified by its SKU."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    brand: Mapped[str] = mapped_column(String(200), index=True)
    msrp: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(Text)
    release_date: Mapped[date | None] = mapped_column(Date)
    batch_size: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    references: Mapped[list[ReferenceImage]] = relationship(
        back_populates="product", cascade="all, delete-orphan", passive_deletes=True
    )


class ReferenceImage(Base):
    """One reference photo of a product; its id is the vector's id in the FAISS index."""

    __tablename__ = "reference_images"
    __table_args__ = (UniqueConstraint("product_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: The path as the catalog CSV gave it, resolved to an absolute path when imported.
    source_path: Mapped[str] = mapped_column(Text)
    #: Our copy of the bytes, relative to the data directory (content-addressed).
    stored_path: Mapped[str] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    phash: Mapped[int] = mapped_column(BigInteger)
    #: float32 descriptor bytes; the FAISS index is always rebuildable from these.
    descriptor: Mapped[bytes] = mapped_column(LargeBinary)
    #: float32 descriptor of a blurred copy of the photo (see :func:`vision.preprocess.blur_for_retrieval`);
    #: None in rows written before it existed, filled in when the index is next rebuilt.
    blurred_descriptor: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: float32 descriptors of the photo tilted each way (see :func:`vision.preprocess.tilt_for_retrieval`),
    #: one after the other; None in rows written before they existed, filled in like the blurred one.
    tilted_descriptors: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    model_fingerprint: Mapped[str] = mapped_column(String(32))
    #: Where the photo came from (:data:`REFERENCE_ORIGINS`): the brand's catalog (studio or
    #: product photography), or a listing photo a reviewer confirmed as showing the product.
    origin: Mapped[ReferenceOrigin] = mapped_column(String(16), default="catalog", server_default="catalog")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    product: Mapped[Product] = relationship(back_populates="references")


class CatalogState(Base):
    """A single row whose version grows with every catalog change; indexes compare against it."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
