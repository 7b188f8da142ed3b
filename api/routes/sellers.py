"""Authorised sellers: each brand's allow-list per marketplace."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AdminKey, IdPath, SessionDep, StaffKey
from api.errors import error_responses
from api.schemas import AuthorisedSellerCreate, AuthorisedSellerPublic, Removed
from hallmark.sellers import add_authorised_seller, list_authorised_sellers, remove_authorised_seller

router = APIRouter(tags=["authorised sellers"])


@router.get(
    "/v1/authorised-sellers",
    response_model=list[AuthorisedSellerPublic],
    responses=error_responses(401, 403, 422, 429),
)
def list_sellers(
    _: StaffKey,
    session: SessionDep,
    brand: Annotated[str | None, Query(max_length=200)] = None,
    marketplace: Annotated[str | None, Query(max_length=100)] = None,
) -> list[AuthorisedSellerPublic]:
    """List authorised sellers, optionally of one brand or marketplace."""
    return [
        AuthorisedSellerPublic.model_validate(row, from_attributes=True)
        for row in list_authorised_sellers(session, brand, marketplace)
    ]


@router.post(
    "/v1/authorised-sellers",
    response_model=AuthorisedSellerPublic,
    status_code=201,
    responses=error_responses(401, 403, 409, 422, 429),
)
def add_seller(
    body: AuthorisedSellerCreate, principal: AdminKey, session: SessionDep
) -> AuthorisedSellerPublic:
    """Authorise a seller for a brand on a marketplace."""
    row = add_authorised_seller(session, body.brand, body.marketplace, body.seller, principal.name)
    return AuthorisedSellerPublic.model_validate(row, from_attributes=True)


@router.delete(
    "/v1/authorised-sellers/{seller_id}",
    response_model=Removed,
    responses=error_responses(401, 403, 404, 422, 429),
)
def remove_seller(seller_id: IdPath, _: AdminKey, session: SessionDep) -> Removed:
    """Take a seller off the allow-list."""
    remove_authorised_seller(session, seller_id)
    return Removed(removed=1)
