"""The case queue: flagged listings from opening to takedown, with every decision in an audit log.

A case is one listing suspected of selling or copying one product. Its life::

    open -> in_review -> confirmed -> takedown_requested -> takedown_sent -> removed
      \\          \\            \\               \\
       +----------+------------+---------------+--> dismissed   (right match, no action due)
       +----------+--> not_a_match                               (a false flag)

``dismissed`` and ``not_a_match`` can be reopened. A ``not_a_match`` decision is remembered by the
listing photo's hash and the reference it matched, so the same photo never flags that reference again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hallmark.db import (
    Case,
    CaseEvent,
    ImageMatch,
    Listing,
    ListingImage,
    Product,
    ReferenceImage,
    ReviewerLabel,
    SuppressedMatch,
    utcnow,
)
from hallmark.errors import ConflictError, InvalidRequestError, NotFoundError
from hallmark.risk import RiskInputs, assess_risk, reasons_to_json
from hallmark.sellers import seller_standing
from hallmark.settings import Settings


class CaseStatus(StrEnum):
    """Where a case stands."""

    OPEN = "open"
    IN_REVIEW = "in_review"
    CONFIRMED = "confirmed"
    TAKEDOWN_REQUESTED = "takedown_requested"
    TAKEDOWN_SENT = "takedown_sent"
    REMOVED = "removed"
    DISMISSED = "dismissed"
    NOT_A_MATCH = "not_a_match"


S = CaseStatus
#: Every legal move. Anything else is refused with the list of what is allowed.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.OPEN: frozenset({S.IN_REVIEW, S.DISMISSED, S.NOT_A_MATCH}),
    S.IN_REVIEW: frozenset({S.CONFIRMED, S.DISMISSED, S.NOT_A_MATCH, S.OPEN}),
    S.CONFIRMED: frozenset({S.TAKEDOWN_REQUESTED, S.DISMISSED}),
    S.TAKEDOWN_REQUESTED: frozenset({S.TAKEDOWN_SENT, S.DISMISSED}),
    S.TAKEDOWN_SENT: frozenset({S.REMOVED}),
    S.REMOVED: frozenset(),
    S.DISMISSED: frozenset({S.OPEN}),
    S.NOT_A_MATCH: frozenset({S.OPEN}),
}
#: States in which a case is closed (``closed_at`` set); the rest are active.
CLOSED: frozenset[CaseStatus] = frozenset({S.REMOVED, S.DISMISSED, S.NOT_A_MATCH})
#: A reviewer's decision on the match: these become labels for calibration.
DECISIONS: frozenset[CaseStatus] = frozenset({S.CONFIRMED, S.DISMISSED, S.NOT_A_MATCH})
#: States a case reaches only after a reviewer decided it is a real match.
CONFIRMED_OR_LATER: frozenset[CaseStatus] = frozenset(
    {S.CONFIRMED, S.TAKEDOWN_REQUESTED, S.TAKEDOWN_SENT, S.REMOVED}
)
MAX_NOTE = 5000


#: Makes one move: ``(session, case_id, to, actor, note) -> case``.
Mover = Callable[[Session, int, CaseStatus, str, str | None], Case]


@dataclass(frozen=True)
class FlaggedMatch:
    """A catalog product a listing photo matched above the operating threshold."""

    reference_id: int
    sku: str
    score: float
    kind: str


@dataclass(frozen=True)
class CaseFilter:
    """Which cases to list."""

    status: Sequence[CaseStatus] = ()
    assignee: str | None = None
    product_id: int | None = None
    listing_id: int | None = None
    min_risk: float | None = None
    limit: int = 50
    offset: int = 0


@dataclass
class BulkOutcome:
    """What a bulk action did to one case."""

    case_id: int
    ok: bool
    status: str | None = None
    error: str | None = None


@dataclass
class OpenedCases:
    """What matching one listing photo did to the queue."""

    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)


def get_case(session: Session, case_id: int) -> Case:
    """A case by id.

    Raises:
        NotFoundError: No case has this id.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError(f"no case with id {case_id}")
    return case


def list_cases(session: Session, query: CaseFilter) -> tuple[list[Case], int]:
    """A page of cases, riskiest first, and how many match in all."""
    conditions: list[Any] = []
    if query.status:
        conditions.append(Case.status.in_([status.value for status in query.status]))
    if query.assignee is not None:
        conditions.append(Case.assignee == query.assignee)
    if query.product_id is not None:
        conditions.append(Case.product_id == query.product_id)
    if query.listing_id is not None:
        conditions.append(Case.listing_id == query.listing_id)
    if query.min_risk is not None:
        conditions.append(Case.risk_score >= query.min_risk)
    total = session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
    cases = session.scalars(
        select(Case)
        .where(*conditions)
        .order_by(Case.risk_score.desc(), Case.id)
        .limit(query.limit)
        .offset(query.offset)
    ).all()
    return list(cases), total


def _event(
    session: Session,
    case: Case,
    actor: str,
    action: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> CaseEvent:
    event = CaseEvent(
        case=case,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        detail=detail or {},
        at=utcnow(),
    )
    session.add(event)
    return event


def _check_note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InvalidRequestError(f"a note may have at most {MAX_NOTE} characters")
    return note or None


def transition(session: Session, case_id: int, to: CaseStatus, actor: str, note: str | None = None) -> Case:
    """Moves a case to another state, recording who did it, labels and remembered false flags.

    Raises:
        NotFoundError: No case has this id.
        ConflictError: The move is not allowed from the case's state, or reopening would give the
            listing a second active case for the product.
    """
    note = _check_note(note)
    case = get_case(session, case_id)
    current = CaseStatus(case.status)
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (the case is final)"
        raise ConflictError(f"case {case.id} cannot go from {current} to {to}; allowed: {allowed}")
    now = utcnow()
    if to == S.OPEN and case.closed_at is not None:
        other = session.scalar(
            select(Case.id).where(
                Case.listing_id == case.listing_id,
                Case.product_id == case.product_id,
                Case.closed_at.is_(None),
                Case.id != case.id,
            )
        )
        if other is not None:
            raise ConflictError(
                f"case {case.id} cannot be reopened: case {other} is already active "
                "for this listing and product"
            )
        if current == S.NOT_A_MATCH:
            _forget_suppression(session, case)
    case.status = to.value
    case.updated_at = now
    case.closed_at = now if to in CLOSED else None
    if to in DECISIONS:
        case.reviewed_at = case.reviewed_at or now
        _label(session, case, to, actor)
    if to == S.NOT_A_MATCH:
        _remember_suppression(session, case, actor)
    if to == S.TAKEDOWN_SENT:
        case.takedown_sent_at = now
    if to == S.REMOVED:
        case.removed_at = now
    _event(session, case, actor, "transition", from_status=current.value, to_status=to.value, note=note)
    session.flush()
    return case


def assign(session: Session, case_id: int, assignee: str | None, actor: str) -> Case:
    """Gives a case to a reviewer (or to nobody with ``None``).

    Raises:
        NotFoundError: No case has this id.
        InvalidRequestError: The assignee's name is too long.
    """
    case = get_case(session, case_id)
    if assignee is not None:
        assignee = assignee.strip() or None
    if assignee is not None and len(assignee) > 200:
        raise InvalidRequestError("an assignee's name may have at most 200 characters")
    if case.assignee != assignee:
        _event(session, case, actor, "assigned", detail={"from": case.assignee, "to": assignee})
        case.assignee = assignee
        case.updated_at = utcnow()
    session.flush()
    return case


def add_note(session: Session, case_id: int, text: str, actor: str) -> CaseEvent:
    """Adds a note to a case's log.

    Raises:
        NotFoundError: No case has this id.
        InvalidRequestError: The note is empty or too long.
    """
    note = _check_note(text)
    if not note:
        raise InvalidRequestError("a note must not be empty")
    case = get_case(session, case_id)
    event = _event(session, case, actor, "note", note=note)
    case.updated_at = utcnow()
    session.flush()
    return event


def case_events(session: Session, case_id: int) -> list[CaseEvent]:
    """A case's audit log, oldest first.

    Raises:
        NotFoundError: No case has this id.
    """
    get_case(session, case_id)
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def bulk(
    session: Session,
    case_ids: Sequence[int],
    actor: str,
    *,
    to: CaseStatus | None = None,
    assignee: str | None = None,
    set_assignee: bool = False,
    note: str | None = None,
    move: Mover | None = None,
) -> list[BulkOutcome]:
    """Applies one action to many cases; each case succeeds or fails on its own.

    Args:
        case_ids: The cases, each at most once.
        actor: Who acts, for the audit log.
        to: Move every case to this state.
        assignee: The assignee to set when ``set_assignee`` is true (``None`` unassigns).
        set_assignee: Whether to change the assignee.
        note: A note added to each case (with the move, when there is one).
        move: What makes a move (default :func:`transition`); the API passes one that also stamps
            takedown notices when the move is to ``takedown_sent``.
    """
    move = move or transition
    if to is None and not set_assignee and not note:
        raise InvalidRequestError("a bulk action needs a status, an assignee or a note")
    outcomes: list[BulkOutcome] = []
    for case_id in dict.fromkeys(case_ids):
        try:
            # A savepoint per case: one refused move must not undo the others.
            with session.begin_nested():
                case = get_case(session, case_id)
                if set_assignee:
                    assign(session, case_id, assignee, actor)
                if to is not None:
                    move(session, case_id, to, actor, note)
                elif note:
                    add_note(session, case_id, note, actor)
            outcomes.append(BulkOutcome(case_id, True, status=case.status))
        except (NotFoundError, ConflictError, InvalidRequestError) as error:
            outcomes.append(BulkOutcome(case_id, False, error=str(error)))
    return outcomes


@dataclass(frozen=True)
class ConfirmedPhoto:
    """A listing photo a reviewer confirmed as showing a catalog product (not a copy of its photo)."""

    case_id: int
    sku: str
    name: str
    brand: str
    #: The photo's copy in the data directory, relative to it.
    stored_path: str


def confirmed_product_photos(session: Session) -> list[ConfirmedPhoto]:
    """Photos of the cases a reviewer confirmed as product matches, oldest case first.

    Only ``product`` verdicts: a confirmed ``copy`` is the brand's own photo, edited, which the
    catalog already holds. Only cases confirmed or further along: a dismissed or reopened case says
    nothing firm about the photo. Photos whose bytes were never stored are left out.
    """
    rows = session.execute(
        select(Case.id, Product.sku, Product.name, Product.brand, ListingImage.stored_path)
        .join(Product, Product.id == Case.product_id)
        .join(ListingImage, ListingImage.id == Case.listing_image_id)
        .where(
            Case.status.in_([status.value for status in CONFIRMED_OR_LATER]),
            Case.verdict == "product",
            ListingImage.stored_path.is_not(None),
        )
        .order_by(Case.id)
    )
    return [
        ConfirmedPhoto(case_id, sku, name, brand, stored_path)
        for case_id, sku, name, brand, stored_path in rows
        if stored_path is not None
    ]


def _label(session: Session, case: Case, decision: CaseStatus, reviewer: str) -> None:
    sku = session.scalar(select(Product.sku).where(Product.id == case.product_id)) or ""
    session.add(
        ReviewerLabel(
            case_id=case.id,
            image_sha256=case.image_sha256,
            sku=sku,
            reference_id=case.reference_id,
            verdict=case.verdict,
            match_score=case.match_score,
            decision=decision.value,
            reviewer=reviewer,
            created_at=utcnow(),
        )
    )


def _remember_suppression(session: Session, case: Case, actor: str) -> None:
    if case.image_sha256 is None or case.reference_id is None:
        return
    exists = session.scalar(
        select(SuppressedMatch.id).where(
            SuppressedMatch.image_sha256 == case.image_sha256,
            SuppressedMatch.reference_id == case.reference_id,
        )
    )
    if exists is None:
        session.add(
            SuppressedMatch(
                image_sha256=case.image_sha256,
                reference_id=case.reference_id,
                case_id=case.id,
                decided_by=actor,
                created_at=utcnow(),
            )
        )


def _forget_suppression(session: Session, case: Case) -> None:
    if case.image_sha256 is None or case.reference_id is None:
        return
    session.execute(
        delete(SuppressedMatch).where(
            SuppressedMatch.image_sha256 == case.image_sha256,
            SuppressedMatch.reference_id == case.reference_id,
        )
    )


def is_suppressed(session: Session, image_sha256: str, reference_id: int) -> bool:
    """Whether a reviewer said this photo is not a match for this reference."""
    return (
        session.scalar(
            select(SuppressedMatch.id).where(
                SuppressedMatch.image_sha256 == image_sha256, SuppressedMatch.reference_id == reference_id
            )
        )
        is not None
    )


def _risk_for(
    session: Session, listing: Listing, product: Product, flagged: FlaggedMatch, settings: Settings
) -> tuple[float, list[dict[str, Any]]]:
    seller = listing.seller.name if listing.seller is not None else None
    inputs = RiskInputs(
        verdict=flagged.kind,
        match_score=flagged.score,
        title=listing.title,
        price=listing.price,
        currency=listing.currency,
        msrp=product.msrp,
        product_currency=product.currency,
        listed_at=listing.listed_at or listing.first_seen_at,
        release_date=product.release_date,
        quantity=listing.quantity,
        batch_size=product.batch_size,
        seller=seller,
        seller_authorised=seller_standing(session, product.brand, listing.marketplace, seller),
    )
    score, reasons = assess_risk(inputs, settings.risk_price_ratio)
    return score, reasons_to_json(reasons)


def open_cases_for_match(
    session: Session,
    match: ImageMatch,
    flagged: Sequence[FlaggedMatch],
    settings: Settings,
    actor: str = "worker",
) -> OpenedCases:
    """Opens (or updates) a case per product a stored listing-photo match flagged.

    One active case per listing and product: a new match of the same pair updates its evidence and
    risk. A photo a reviewer called ``not_a_match`` for a reference is skipped for that reference, and
    a listing already ``dismissed`` for a product is not reopened by new matches.

    Args:
        session: The open transaction.
        match: The stored match (its listing photo gives the listing and the image hash).
        flagged: The products matched above the operating threshold.
        settings: For the risk score's price ratio.
        actor: Who opens the cases, for the audit log.
    """
    outcome = OpenedCases()
    image = session.get(ListingImage, match.listing_image_id)
    if image is None:
        raise NotFoundError(f"no listing photo with id {match.listing_image_id}")
    listing = image.listing
    for item in flagged:
        reference = session.get(ReferenceImage, item.reference_id)
        if reference is None:  # removed from the catalog since the match
            continue
        if image.sha256 and is_suppressed(session, image.sha256, reference.id):
            outcome.suppressed.append(reference.id)
            continue
        product = reference.product
        dismissed = session.scalar(
            select(Case.id).where(
                Case.listing_id == listing.id, Case.product_id == product.id, Case.status == S.DISMISSED.value
            )
        )
        if dismissed is not None:
            continue
        risk, reasons = _risk_for(session, listing, product, item, settings)
        evidence = {
            "listing_image_id": image.id,
            "image_match_id": match.id,
            "reference_id": reference.id,
            "image_sha256": image.sha256,
            "verdict": item.kind,
            "match_score": item.score,
            "risk_score": risk,
            "risk_reasons": reasons,
        }
        active = session.scalar(
            select(Case).where(
                Case.listing_id == listing.id, Case.product_id == product.id, Case.closed_at.is_(None)
            )
        )
        if active is not None:
            changed = {
                name: value
                for name, value in evidence.items()
                if name != "image_match_id" and getattr(active, name) != value
            }
            for name, value in evidence.items():
                setattr(active, name, value)
            if changed:
                active.updated_at = utcnow()
                _event(session, active, actor, "evidence_updated", detail={"changed": sorted(changed)})
            outcome.updated.append(active.id)
            continue
        try:
            with session.begin_nested():
                case = Case(listing_id=listing.id, product_id=product.id, status=S.OPEN.value, **evidence)
                case.opened_at = case.updated_at = utcnow()
                session.add(case)
                session.flush()
                _event(session, case, actor, "opened", to_status=S.OPEN.value, detail={"sku": product.sku})
                session.flush()
        except IntegrityError:
            # Another worker opened the same case a moment ago; the unique index kept one.
            continue
        outcome.opened.append(case.id)
    return outcome
