"""API keys: creating, authenticating, listing and revoking them. Keys are stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.db import ApiKey, utcnow
from hallmark.errors import AuthenticationError, InvalidRequestError, NotFoundError
from hallmark.roles import Role

#: Every key starts with this, so that leaked keys are easy to find with secret scanners.
KEY_PREFIX = "hm_"
#: ``last_used_at`` is written at most this often per key, not on every request.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """The caller behind a request: an API key's id, name and role."""

    key_id: int
    name: str
    role: Role


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key after its creation (never the key itself)."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def parse_role(value: str) -> Role:
    """A role from its name.

    Raises:
        InvalidRequestError: Not one of ``admin``, ``reviewer``, ``partner``.
    """
    try:
        return Role(value.strip().lower())
    except ValueError:
        allowed = ", ".join(role.value for role in Role)
        raise InvalidRequestError(f"unknown role {value!r}; expected one of {allowed}") from None


def create_key(session: Session, role: Role, name: str) -> tuple[KeyInfo, str]:
    """Creates a key; returns its record and the key itself, which is never shown again.

    Raises:
        InvalidRequestError: The name is empty or too long.
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequestError("a key needs a name of 1 to 200 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role.value, prefix=key[:10], key_hash=_hash(key))
    session.add(row)
    session.flush()
    return _info(row), key


def authenticate(session: Session, key: str) -> Principal:
    """The principal behind a presented key.

    Raises:
        AuthenticationError: The key is unknown or revoked (one message for both: no oracle).
    """
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key)))
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("invalid or revoked API key")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = now
    return Principal(key_id=row.id, name=row.name, role=Role(row.role))


def list_keys(session: Session, include_revoked: bool = False) -> list[KeyInfo]:
    """Every key, oldest first."""
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [_info(row) for row in session.scalars(query)]


def revoke_key(session: Session, key_id: int) -> KeyInfo:
    """Revokes a key at once; revoking twice is harmless.

    Raises:
        NotFoundError: No key has this id.
    """
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return _info(row)
