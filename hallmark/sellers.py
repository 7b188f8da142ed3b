"""Authorised sellers: each brand's allow-list per marketplace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hallmark.db import AuthorisedSeller
from hallmark.errors import ConflictError, InvalidRequestError, NotFoundError


@dataclass(frozen=True)
class AuthorisedSellerInfo:
    """One allow-list entry."""

    id: int
    brand: str
    marketplace: str
    seller: str
    added_by: str
    created_at: datetime


def seller_key(name: str) -> str:
    """How seller names are compared: trimmed, inner spaces collapsed, case-folded."""
    return " ".join(name.split()).casefold()


def _info(row: AuthorisedSeller) -> AuthorisedSellerInfo:
    return AuthorisedSellerInfo(row.id, row.brand, row.marketplace, row.seller, row.added_by, row.created_at)


def add_authorised_seller(
    session: Session, brand: str, marketplace: str, seller: str, added_by: str
) -> AuthorisedSellerInfo:
    """Adds a seller to a brand's allow-list on one marketplace.

    Raises:
        InvalidRequestError: A field is empty.
        ConflictError: The seller is already on this list.
    """
    brand, marketplace, seller = brand.strip(), marketplace.strip().lower(), seller.strip()
    if not (brand and marketplace and seller_key(seller)):
        raise InvalidRequestError("brand, marketplace and seller must not be empty")
    key = seller_key(seller)
    existing = session.scalar(
        select(AuthorisedSeller).where(
            func.lower(AuthorisedSeller.brand) == brand.lower(),
            AuthorisedSeller.marketplace == marketplace,
            AuthorisedSeller.seller_key == key,
        )
    )
    if existing is not None:
        raise ConflictError(f"{seller!r} is already authorised for {brand} on {marketplace}")
    row = AuthorisedSeller(
        brand=brand, marketplace=marketplace, seller=seller, seller_key=key, added_by=added_by
    )
    session.add(row)
    session.flush()
    return _info(row)


def list_authorised_sellers(
    session: Session, brand: str | None = None, marketplace: str | None = None
) -> list[AuthorisedSellerInfo]:
    """The allow-list, optionally for one brand and/or marketplace."""
    query = select(AuthorisedSeller).order_by(
        AuthorisedSeller.brand, AuthorisedSeller.marketplace, AuthorisedSeller.seller_key
    )
    if brand:
        query = query.where(func.lower(AuthorisedSeller.brand) == brand.strip().lower())
    if marketplace:
        query = query.where(AuthorisedSeller.marketplace == marketplace.strip().lower())
    return [_info(row) for row in session.scalars(query)]


def remove_authorised_seller(session: Session, seller_id: int) -> None:
    """Removes one allow-list entry.

    Raises:
        NotFoundError: No entry has this id.
    """
    row = session.get(AuthorisedSeller, seller_id)
    if row is None:
        raise NotFoundError(f"no authorised seller with id {seller_id}")
    session.delete(row)


def seller_standing(session: Session, brand: str, marketplace: str, seller: str | None) -> bool | None:
    """Whether a seller is authorised for a brand on a marketplace.

    Returns:
        True or False when the brand keeps an allow-list for this marketplace, None when it keeps none
        (an empty list says nothing about anyone) or the listing names no seller.
    """
    marketplace = marketplace.strip().lower()
    keys = set(
        session.scalars(
            select(AuthorisedSeller.seller_key).where(
                func.lower(AuthorisedSeller.brand) == brand.strip().lower(),
                AuthorisedSeller.marketplace == marketplace,
            )
        )
    )
    if not keys or not seller:
        return None
    return seller_key(seller) in keys
