"""Listings: what crawlers (or reviewers, by hand) found on marketplaces, and how their photos matched."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import AnyHttpUrl
from sqlalchemy import func, select

from api.deps import IdPath, SessionDep, StaffKey, StateDep
from api.errors import error_responses
from api.imaging import decode_upload
from api.schemas import ListingCreated, ListingDetail, ListingImagePublic, ListingList, ListingPublic
from api.state import AppState
from hallmark.db import ImageMatch, Listing
from hallmark.errors import FetchError, InvalidRequestError, NotFoundError
from hallmark.listings import ListingReport, StoredPhoto, report_listing
from hallmark.safe_fetch import fetch_url

router = APIRouter(tags=["listings"])


def _listing(listing: Listing) -> ListingPublic:
    return ListingPublic(
        id=listing.id,
        marketplace=listing.marketplace,
        url=listing.url,
        title=listing.title,
        price=listing.price,
        currency=listing.currency,
        quantity=listing.quantity,
        seller=listing.seller.name if listing.seller is not None else None,
        status=listing.status,
        listed_at=listing.listed_at,
        first_seen_at=listing.first_seen_at,
        last_seen_at=listing.last_seen_at,
    )


@router.get("/v1/listings", response_model=ListingList, responses=error_responses(401, 403, 422, 429))
def list_listings(
    _: StaffKey,
    session: SessionDep,
    marketplace: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ListingList:
    """List listings, newest first."""
    conditions = []
    if marketplace:
        conditions.append(Listing.marketplace == marketplace.lower())
    if status:
        conditions.append(Listing.status == status)
    total = session.scalar(select(func.count()).select_from(Listing).where(*conditions)) or 0
    rows = session.scalars(
        select(Listing)
        .where(*conditions)
        .order_by(Listing.last_seen_at.desc(), Listing.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return ListingList(total=total, items=[_listing(row) for row in rows])


@router.get(
    "/v1/listings/{listing_id}",
    response_model=ListingDetail,
    responses=error_responses(401, 403, 404, 422, 429),
)
def read_listing(listing_id: IdPath, _: StaffKey, session: SessionDep) -> ListingDetail:
    """Read a listing with its photos and their latest match."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise NotFoundError(f"no listing with id {listing_id}")
    images = []
    for image in listing.images:
        match = session.scalar(
            select(ImageMatch)
            .where(ImageMatch.listing_image_id == image.id)
            .order_by(ImageMatch.id.desc())
            .limit(1)
        )
        images.append(
            ListingImagePublic(
                id=image.id,
                url=image.url,
                sha256=image.sha256,
                error=image.error,
                verdict=match.verdict if match is not None else None,
                score=match.score if match is not None else None,
            )
        )
    return ListingDetail(**_listing(listing).model_dump(), images=images)


def _store(state: AppState, report: ListingReport, photo: StoredPhoto) -> tuple[int, int]:
    with state.database.session() as session:
        listing, image = report_listing(session, state.settings.resolved_home, report, photo)
        return listing.id, image.id


def _photo_bytes(state: AppState, image: UploadFile | None, image_url: str | None) -> tuple[str, bytes]:
    if image is not None and image_url:
        raise InvalidRequestError("send either an image file or an image_url, not both")
    if image is not None:
        return f"upload:{image.filename or 'photo'}", image.file.read(state.settings.max_image_bytes + 1)
    if image_url:
        resource = fetch_url(
            image_url, max_bytes=state.settings.max_image_bytes, settings=state.settings, accept="image/*"
        )
        if resource.status >= 400:
            raise FetchError(f"{image_url} answered HTTP {resource.status}")
        return image_url, resource.body
    raise InvalidRequestError("a listing needs a photo: an image file or an image_url")


@router.post(
    "/v1/listings",
    response_model=ListingCreated,
    status_code=201,
    responses=error_responses(401, 403, 413, 415, 422, 429),
)
def report_listing_route(
    state: StateDep,
    _: StaffKey,
    url: Annotated[AnyHttpUrl, Form(description="The listing's page.")],
    marketplace: Annotated[str, Form(min_length=1, max_length=100)],
    title: Annotated[str, Form(max_length=2000)] = "",
    price: Annotated[Decimal | None, Form(ge=0, le=Decimal("999999999999"), decimal_places=2)] = None,
    currency: Annotated[str | None, Form(min_length=3, max_length=3)] = None,
    quantity: Annotated[int | None, Form(ge=0, le=2_000_000_000)] = None,
    seller: Annotated[str | None, Form(max_length=300)] = None,
    listed_at: Annotated[datetime | None, Form()] = None,
    image: Annotated[UploadFile | None, File(description="The listing's photo.")] = None,
    image_url: Annotated[str | None, Form(max_length=2048, description="Or the photo's URL.")] = None,
) -> ListingCreated:
    """Report a listing by hand; its photo is queued for matching."""
    if listed_at is not None and listed_at.tzinfo is None:
        raise InvalidRequestError("listed_at needs a time zone, e.g. 2024-05-01T12:00:00Z")
    name, data = _photo_bytes(state, image, image_url)
    decoded = decode_upload(data, state.settings, for_matching=False)
    report = ListingReport(
        url=str(url)[:2048],
        marketplace=marketplace,
        title=title,
        price=price,
        currency=currency.upper() if currency else None,
        quantity=quantity,
        seller=seller.strip() or None if seller else None,
        listed_at=listed_at,
    )
    photo = StoredPhoto(name, data, decoded.sha256, decoded.format, decoded.width, decoded.height)
    listing_id, image_id = _store(state, report, photo)
    return ListingCreated(listing_id=listing_id, listing_image_id=image_id, queued=True)
