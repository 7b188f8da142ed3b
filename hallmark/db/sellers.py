"""Authorised sellers: a brand's allow-list per marketplace, consulted by the risk score."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hallmark.db.base import Base, UTCDateTime, utcnow


class AuthorisedSeller(Base):
    """A seller allowed to sell a brand's products on one marketplace."""

    __tablename__ = "authorised_sellers"
    __table_args__ = (UniqueConstraint("brand", "marketplace", "seller_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand: Mapped[str] = mapped_column(String(200))
    marketplace: Mapped[str] = mapped_column(String(100))
    #: The seller's name as given.
    seller: Mapped[str] = mapped_column(String(300))
    #: The name case-folded and trimmed: how listings' sellers are compared.
    seller_key: Mapped[str] = mapped_column(String(300))
    added_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
