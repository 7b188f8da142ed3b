"""The catalog: products and their reference photos (the index follows every change)."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from api.deps import AdminKey, AnyKey, IdPath, SessionDep, StaffKey, StateDep
from api.errors import error_responses
from api.imaging import reference_url
from api.schemas import (
    Learned,
    ProductDetail,
    ProductList,
    ProductPublic,
    ReferenceCreated,
    ReferencePublic,
    Removed,
)
from hallmark.db import Product, ReferenceImage
from hallmark.db.catalog import ReferenceOrigin
from hallmark.errors import InvalidRequestError, NotFoundError
from index.catalog_csv import parse_product_fields

router = APIRouter(tags=["catalog"])


def _product(product: Product, references: int) -> ProductPublic:
    return ProductPublic(
        id=product.id,
        sku=product.sku,
        name=product.name,
        brand=product.brand,
        msrp=product.msrp,
        currency=product.currency,
        description=product.description,
        release_date=product.release_date,
        batch_size=product.batch_size,
        references=references,
    )


@router.get("/v1/products", response_model=ProductList, responses=error_responses(401, 403, 422, 429))
def list_products(
    _: StaffKey,
    session: SessionDep,
    brand: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ProductList:
    """List products with their photo counts."""
    conditions = [Product.brand == brand] if brand else []
    total = session.scalar(select(func.count()).select_from(Product).where(*conditions)) or 0
    counts = (
        select(ReferenceImage.product_id, func.count().label("n"))
        .group_by(ReferenceImage.product_id)
        .subquery()
    )
    rows = session.execute(
        select(Product, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.product_id == Product.id)
        .where(*conditions)
        .order_by(Product.sku)
        .limit(limit)
        .offset(offset)
    ).all()
    return ProductList(total=total, items=[_product(product, count) for product, count in rows])


@router.get(
    "/v1/products/{product_id}",
    response_model=ProductDetail,
    responses=error_responses(401, 403, 404, 422, 429),
)
def read_product(
    product_id: IdPath, request: Request, state: StateDep, _: StaffKey, session: SessionDep
) -> ProductDetail:
    """Read a product and its reference photos."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFoundError(f"no product with id {product_id}")
    base = state.settings.public_base_url or str(request.base_url)
    photos = [
        ReferencePublic(
            id=reference.id,
            sha256=reference.sha256,
            width=reference.width,
            height=reference.height,
            image_url=reference_url(base, reference.id),
            origin=reference.origin,
            created_at=reference.created_at,
        )
        for reference in product.references
    ]
    return ProductDetail(**_product(product, len(photos)).model_dump(), reference_photos=photos)


@router.delete(
    "/v1/products/{product_id}", response_model=Removed, responses=error_responses(401, 403, 404, 422, 429)
)
def remove_product(product_id: IdPath, state: StateDep, _: AdminKey) -> Removed:
    """Remove a product and its photos from the catalog and the index."""
    with state.database.session() as session:
        sku = session.scalar(select(Product.sku).where(Product.id == product_id))
    if sku is None:
        raise NotFoundError(f"no product with id {product_id}")
    return Removed(removed=state.catalog.remove_product(sku))


@router.post(
    "/v1/references",
    response_model=ReferenceCreated,
    status_code=201,
    responses=error_responses(401, 403, 413, 415, 422, 429),
)
async def add_reference(
    state: StateDep,
    _: AdminKey,
    image: Annotated[UploadFile, File(description="The reference photo: JPEG, PNG or WebP.")],
    sku: Annotated[str, Form(min_length=1, max_length=128)],
    name: Annotated[str, Form(min_length=1, max_length=300)],
    brand: Annotated[str, Form(min_length=1, max_length=200)],
    msrp: Annotated[str | None, Form(max_length=32)] = None,
    currency: Annotated[str | None, Form(max_length=3)] = None,
    description: Annotated[str | None, Form(max_length=5000)] = None,
    release_date: Annotated[str | None, Form(max_length=10, description="YYYY-MM-DD")] = None,
    batch_size: Annotated[str | None, Form(max_length=12)] = None,
    origin: Annotated[
        ReferenceOrigin,
        Form(description="catalog: the brand's photography; confirmed: a listing photo a reviewer confirmed"),
    ] = "catalog",
) -> ReferenceCreated:
    """Add a reference photo (creating or updating its product)."""
    raw = {
        "sku": sku,
        "name": name,
        "brand": brand,
        "image": image.filename or "upload",
        "msrp": msrp,
        "currency": currency,
        "description": description,
        "release_date": release_date,
        "batch_size": batch_size,
    }
    try:
        fields = parse_product_fields(raw)
    except ValueError as error:
        raise InvalidRequestError(str(error)) from None
    data = await image.read()
    source = image.filename or "upload"
    reference_id, created = await run_in_threadpool(state.catalog.add_reference, fields, data, source, origin)
    with state.database.session() as session:
        product_id = session.scalar(
            select(ReferenceImage.product_id).where(ReferenceImage.id == reference_id)
        )
    return ReferenceCreated(reference_id=reference_id, product_id=product_id or 0, created=created)


@router.post("/v1/catalog/learn", response_model=Learned, responses=error_responses(401, 403, 429))
async def learn(state: StateDep, _: AdminKey) -> Learned:
    """Add the photos of confirmed product-match cases to their products as confirmed photos.

    Idempotent; the same as ``hallmark catalog learn``.
    """
    report = await run_in_threadpool(state.catalog.add_confirmed_photos)
    return Learned(cases=report.cases, added=report.added, unchanged=report.unchanged, errors=report.errors)


@router.get(
    "/v1/references/{reference_id}/image",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}, "description": "The photo."},
        **error_responses(401, 403, 404, 422, 429),
    },
)
def reference_image(reference_id: IdPath, state: StateDep, _: AnyKey, session: SessionDep) -> FileResponse:
    """Download a reference photo (the evidence a check answer points to)."""
    reference = session.get(ReferenceImage, reference_id)
    if reference is None:
        raise NotFoundError(f"no reference photo with id {reference_id}")
    path = state.settings.resolved_home / reference.stored_path
    if not path.is_file():
        raise NotFoundError(f"the file of reference photo {reference_id} is missing from the data directory")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type)


@router.delete(
    "/v1/references/{reference_id}",
    response_model=Removed,
    responses=error_responses(401, 403, 404, 422, 429),
)
def remove_reference(reference_id: IdPath, state: StateDep, _: AdminKey) -> Removed:
    """Remove one reference photo (its product stays)."""
    state.catalog.remove_reference(reference_id)
    return Removed(removed=1)
