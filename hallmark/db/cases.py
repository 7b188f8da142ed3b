"""Case tables: flagged listings under review, their audit log, reviewer labels and remembered false flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hallmark.db.base import Base, UTCDateTime, utcnow
from hallmark.db.catalog import Product
from hallmark.db.listings import Listing


class Case(Base):
    """One listing suspected of selling or copying one product.

    A listing has at most one active case per product (``closed_at`` is NULL while a case is active);
    the partial unique index enforces it on both databases.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index(
            "uq_cases_active_listing_product",
            "listing_id",
            "product_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    #: See :mod:`hallmark.cases` for the states and the transitions between them.
    status: Mapped[str] = mapped_column(String(24), default="open", index=True)
    risk_score: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    #: ``[{"code", "detail", "weight"}, ...]``, strongest first.
    risk_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: The photo evidence: the listing photo, the reference it matched and the scores.
    listing_image_id: Mapped[int | None] = mapped_column(
        ForeignKey("listing_images.id", ondelete="SET NULL"), index=True
    )
    image_match_id: Mapped[int | None] = mapped_column(ForeignKey("image_matches.id", ondelete="SET NULL"))
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("reference_images.id", ondelete="SET NULL"))
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16), default="none")
    match_score: Mapped[float] = mapped_column(Float, default=0.0)
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    #: First time a reviewer decided (confirmed, dismissed or not_a_match); for precision KPIs.
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    takedown_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Set when the case reaches a closed state; NULL while it is active.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    listing: Mapped[Listing] = relationship()
    product: Mapped[Product] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", cascade="all, delete-orphan", passive_deletes=True, order_by="CaseEvent.id"
    )


class CaseEvent(Base):
    """The audit log: who did what to a case, and when. Rows are only ever added."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The API key's name, ``worker`` or ``cli``.
    actor: Mapped[str] = mapped_column(String(200))
    #: ``opened``, ``transition``, ``assigned``, ``note``, ``evidence_updated``, ``takedown_notice``...
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class ReviewerLabel(Base):
    """A reviewer's decision on a flagged match, kept for calibrating the threshold."""

    __tablename__ = "reviewer_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(128))
    reference_id: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    match_score: Mapped[float] = mapped_column(Float)
    #: ``confirmed``, ``dismissed`` or ``not_a_match``.
    decision: Mapped[str] = mapped_column(String(24))
    reviewer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SuppressedMatch(Base):
    """A ``not_a_match`` decision remembered: this image never flags this reference again."""

    __tablename__ = "suppressed_matches"
    __table_args__ = (UniqueConstraint("image_sha256", "reference_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_sha256: Mapped[str] = mapped_column(String(64))
    reference_id: Mapped[int] = mapped_column(ForeignKey("reference_images.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    decided_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
