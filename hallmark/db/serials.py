"""The serial registry (``sku,serial,batch``) and every look-up of a serial."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hallmark.db.base import Base, UTCDateTime, utcnow


class Serial(Base):
    """A serial number the brand printed on one item (a tag, a QR code)."""

    __tablename__ = "serials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(128), unique=True)
    sku: Mapped[str] = mapped_column(String(128), index=True)
    batch: Mapped[str | None] = mapped_column(String(128))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SerialLookup(Base):
    """One verification of a serial, counted whatever its result (unknown serials too)."""

    __tablename__ = "serial_lookups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial_id: Mapped[int | None] = mapped_column(ForeignKey("serials.id", ondelete="CASCADE"), index=True)
    serial_text: Mapped[str] = mapped_column(String(128), index=True)
    #: ``genuine``, ``unknown`` or ``suspicious``.
    result: Mapped[str] = mapped_column(String(16))
    #: Where the look-up came from: the place the buyer names, else the client's address.
    place: Mapped[str] = mapped_column(String(200))
    #: ``typed`` or ``qr``.
    source: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
