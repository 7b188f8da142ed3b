"""Request and response bodies, a model per purpose."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from hallmark.cases import CaseStatus
from hallmark.db.catalog import ReferenceOrigin
from hallmark.roles import Role

#: An object id in a body: integers that fit the databases' INTEGER columns.
ObjectId = Annotated[int, Field(ge=1, le=2_147_483_647)]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


# -- check ---------------------------------------------------------------------------------------


class CheckUrlRequest(BaseModel):
    """Check the image at a URL (fetched with the SSRF guard)."""

    model_config = ConfigDict(extra="forbid")
    image_url: HttpUrl = Field(description="An http or https URL of a JPEG, PNG or WebP image.")
    top_k: int = Field(default=5, ge=1, le=100)


class CheckMatch(BaseModel):
    sku: str
    name: str
    score: float = Field(ge=0, le=1)
    kind: Literal["copy", "product"]
    reference_image: str = Field(description="URL of the matched reference photo.")
    evidence: dict[str, Any] = Field(default_factory=dict)


class CheckResponse(BaseModel):
    """The same object ``hallmark check --json`` prints, plus the check's id."""

    image: str = Field(description="The uploaded file's name, or the URL.")
    verdict: Literal["copy", "product", "none"]
    score: float = Field(ge=0, le=1)
    matches: list[CheckMatch]
    check_id: int | None = Field(default=None, description="Read it again at GET /v1/checks/{check_id}.")


class CheckRecordPublic(BaseModel):
    id: int
    image: str
    verdict: str
    score: float
    created_at: datetime
    result: CheckResponse


class CheckList(BaseModel):
    total: int
    items: list[CheckRecordPublic]


# -- catalog -------------------------------------------------------------------------------------


class ReferencePublic(BaseModel):
    id: int
    sha256: str
    width: int
    height: int
    image_url: str
    #: ``catalog`` (the brand's photography) or ``confirmed`` (a listing photo a reviewer confirmed).
    origin: ReferenceOrigin
    created_at: datetime


class ProductPublic(BaseModel):
    id: int
    sku: str
    name: str
    brand: str
    msrp: Decimal | None
    currency: str | None
    description: str | None
    release_date: date | None
    batch_size: int | None
    references: int


class ProductDetail(ProductPublic):
    reference_photos: list[ReferencePublic]


class ProductList(BaseModel):
    total: int
    items: list[ProductPublic]


class ReferenceCreated(BaseModel):
    reference_id: int
    product_id: int
    created: bool = Field(description="False when this product already had this exact photo.")


class Learned(BaseModel):
    cases: int = Field(description="Confirmed product-match cases looked at.")
    added: int = Field(description="Their photos added as confirmed reference photos.")
    unchanged: int = Field(description="Photos their product already had.")
    errors: list[str] = Field(description="Cases whose photo could not be added, and why.")


class Removed(BaseModel):
    removed: int = Field(description="How many objects went (a product counts its photos).")


# -- listings ------------------------------------------------------------------------------------


class ListingImagePublic(BaseModel):
    id: int
    url: str
    sha256: str | None
    error: str | None
    verdict: str | None = Field(description="The latest match's verdict, if matched yet.")
    score: float | None


class ListingPublic(BaseModel):
    id: int
    marketplace: str
    url: str
    title: str
    price: Decimal | None
    currency: str | None
    quantity: int | None
    seller: str | None
    status: str
    listed_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime


class ListingDetail(ListingPublic):
    images: list[ListingImagePublic]


class ListingList(BaseModel):
    total: int
    items: list[ListingPublic]


class ListingCreated(BaseModel):
    listing_id: int
    listing_image_id: int
    queued: bool = Field(description="The photo waits in the work queue for a worker to match it.")


# -- cases ---------------------------------------------------------------------------------------


class RiskReasonPublic(BaseModel):
    code: str
    detail: str
    weight: float


class CasePublic(BaseModel):
    id: int
    status: CaseStatus
    listing_id: int
    listing_url: str
    marketplace: str
    product_id: int
    sku: str
    risk_score: float
    risk_reasons: list[RiskReasonPublic]
    verdict: str
    match_score: float
    listing_image_id: int | None
    reference_id: int | None
    assignee: str | None
    opened_at: datetime
    updated_at: datetime
    reviewed_at: datetime | None
    takedown_sent_at: datetime | None
    removed_at: datetime | None
    closed_at: datetime | None
    hours_to_removal: float | None
    allowed_transitions: list[CaseStatus]


class CaseList(BaseModel):
    total: int
    items: list[CasePublic]


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: CaseStatus
    note: str | None = Field(default=None, max_length=5000)


class CaseUpdate(BaseModel):
    """Change a case's assignee (null unassigns)."""

    model_config = ConfigDict(extra="forbid")
    assignee: str | None = Field(max_length=200)


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=5000)


class CaseEventPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    detail: dict[str, Any]


class BulkRequest(BaseModel):
    """One action on many cases: a move, an assignee, a note, or several of these."""

    model_config = ConfigDict(extra="forbid")
    case_ids: list[ObjectId] = Field(min_length=1, max_length=500)
    to: CaseStatus | None = None
    assignee: str | None = Field(default=None, max_length=200)
    set_assignee: bool = Field(default=False, description="Change the assignee (to null unassigns).")
    note: str | None = Field(default=None, max_length=5000)


class BulkResult(BaseModel):
    case_id: int
    ok: bool
    status: str | None
    error: str | None


class BulkResponse(BaseModel):
    results: list[BulkResult]


# -- takedowns -----------------------------------------------------------------------------------


class TakedownNoticePublic(BaseModel):
    id: int
    case_id: int
    marketplace: str
    text: str
    evidence: dict[str, Any]
    created_by: str
    created_at: datetime
    sent_at: datetime | None
    sent_by: str | None
    last_checked_at: datetime | None
    checks: int
    removed_at: datetime | None


class SentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=5000)


# -- labels, sellers, serials, kpis, keys --------------------------------------------------------


class LabelPublic(BaseModel):
    id: int
    case_id: int | None
    sku: str
    reference_id: int | None
    image_sha256: str | None
    verdict: str
    match_score: float
    decision: str
    is_match: bool
    reviewer: str
    created_at: datetime


class AuthorisedSellerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brand: str = Field(min_length=1, max_length=200)
    marketplace: str = Field(min_length=1, max_length=100)
    seller: str = Field(min_length=1, max_length=300)


class AuthorisedSellerPublic(BaseModel):
    id: int
    brand: str
    marketplace: str
    seller: str
    added_by: str
    created_at: datetime


class SerialImportResponse(BaseModel):
    rows: int
    added: int
    updated: int
    unchanged: int
    errors: list[str]


class SerialVerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: str = Field(min_length=1, max_length=128)
    place: str | None = Field(
        default=None,
        max_length=200,
        description="Where the item is (shop, city); the client address if absent.",
    )


class SerialVerification(BaseModel):
    serial: str
    result: Literal["genuine", "unknown", "suspicious"]
    sku: str | None
    batch: str | None
    lookups: int
    places: int
    reasons: list[str]
    source: Literal["typed", "qr"]


class SerialInfoPublic(BaseModel):
    serial: str
    sku: str
    batch: str | None
    imported_at: datetime
    lookups: int
    places: int
    last_lookup_at: datetime | None


class DailyFlags(BaseModel):
    day: date
    flags: int


class KpisPublic(BaseModel):
    since: datetime
    days: int
    flags: int
    flags_per_day: list[DailyFlags]
    reviewed: int
    precision: float | None = Field(description="Reviewed cases not ending not_a_match, over reviewed cases.")
    takedowns_sent: int
    removed: int
    median_hours_to_removal: float | None
    serial_lookups: int
    suspicious_serial_lookups: int
    listings_scanned: int
    open_cases: int


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    name: str = Field(min_length=1, max_length=200)


class KeyPublic(BaseModel):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself; shown this once and never stored.")
