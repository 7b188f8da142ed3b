"""The work queue: items (images to match, takedowns to re-check) that workers claim and finish."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hallmark.db.base import Base, UTCDateTime, utcnow


class WorkItem(Base):
    """A unit of background work.

    Workers claim items with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and set a lease; an item whose
    lease ran out (its worker died) is claimed again.
    """

    __tablename__ = "work_items"
    __table_args__ = (Index("ix_work_items_claimable", "status", "available_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: ``pending``, ``claimed``, ``done`` or ``failed``.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
