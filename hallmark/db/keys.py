"""API keys: who may call the API, in which role. Only a hash of each key is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hallmark.db.base import Base, UTCDateTime, utcnow


class ApiKey(Base):
    """An API key's record; the key itself is shown once, when created, and never stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: ``admin``, ``reviewer`` or ``partner``.
    role: Mapped[str] = mapped_column(String(16))
    #: The key's first characters, shown in listings so that people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the whole key: keys are 256-bit random, so a slow hash would add nothing.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
