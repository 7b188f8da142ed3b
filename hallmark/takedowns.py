"""Takedown notices: written from a template per marketplace, marked sent, and followed up until the
listing is gone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.cases import CaseStatus, get_case, transition
from hallmark.db import Case, ListingImage, TakedownNotice, WorkItem, utcnow
from hallmark.errors import ConflictError, FetchError, NotFoundError
from hallmark.safe_fetch import fetch_url
from hallmark.settings import Settings
from hallmark.work_queue import CLAIMED, KIND_RECHECK_TAKEDOWN, PENDING, WorkContext, enqueue

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "takedown.txt.j2"
#: A notice can be written once a reviewer confirmed the case, and rewritten until it is sent.
NOTICE_STATES = frozenset({CaseStatus.CONFIRMED, CaseStatus.TAKEDOWN_REQUESTED})


def _environment(settings: Settings) -> Environment:
    loaders: list[FileSystemLoader] = []
    if settings.takedown_template_dir is not None:
        loaders.append(FileSystemLoader(str(settings.takedown_template_dir.expanduser())))
    loaders.append(FileSystemLoader(str(TEMPLATES)))
    # Plain-text notices, not HTML: escaping would garble titles with "&" or quotes in them.
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def _evidence_url(settings: Settings, path: str) -> str:
    base = (settings.public_base_url or "").rstrip("/")
    return base + path


def notice_evidence(session: Session, case: Case, settings: Settings) -> dict[str, Any]:
    """The structured content of a notice: who complains, about what, and the proof."""
    listing = case.listing
    product = case.product
    image = session.get(ListingImage, case.listing_image_id) if case.listing_image_id else None
    captured_at: datetime = image.first_seen_at if image is not None else case.opened_at
    return {
        "case_id": case.id,
        "marketplace": listing.marketplace,
        "rights_holder": settings.takedown_rights_holder or product.brand,
        "contact": settings.takedown_contact,
        "listing": {
            "url": listing.url,
            "title": listing.title,
            "seller": listing.seller.name if listing.seller is not None else None,
            "price": str(listing.price) if listing.price is not None else None,
            "currency": listing.currency,
        },
        "product": {"sku": product.sku, "name": product.name, "brand": product.brand},
        "evidence": {
            "listing_photo": {
                "url": image.url if image is not None else None,
                "sha256": case.image_sha256,
                "captured_at": captured_at.isoformat(),
            },
            "matched_reference": {
                "id": case.reference_id,
                "url": _evidence_url(settings, f"/v1/references/{case.reference_id}/image")
                if case.reference_id is not None
                else None,
            },
            "verdict": case.verdict,
            "match_score": case.match_score,
            "risk_score": case.risk_score,
            "risk_reasons": case.risk_reasons,
        },
    }


def render_notice(evidence: dict[str, Any], settings: Settings, created_at: datetime) -> str:
    """The notice's text, from ``MARKETPLACE.txt.j2`` when there is one, else the default template."""
    environment = _environment(settings)
    marketplace = str(evidence["marketplace"]).lower()
    try:
        template = environment.get_template(f"{marketplace}.txt.j2")
    except TemplateNotFound:
        template = environment.get_template(DEFAULT_TEMPLATE)
    return template.render(**evidence, created_at=created_at.isoformat())


def prepare_notice(session: Session, case_id: int, actor: str, settings: Settings) -> TakedownNotice:
    """Writes a takedown notice for a confirmed case and moves it to ``takedown_requested``.

    Writing again before it is sent replaces the draft with one from the current evidence.

    Raises:
        NotFoundError: No case has this id.
        ConflictError: The case is not confirmed (or already sent).
    """
    case = get_case(session, case_id)
    if CaseStatus(case.status) not in NOTICE_STATES:
        raise ConflictError(
            f"case {case.id} is {case.status}; a takedown notice needs a confirmed case "
            "(or one whose takedown is requested and not yet sent)"
        )
    now = utcnow()
    evidence = notice_evidence(session, case, settings)
    notice = TakedownNotice(
        case_id=case.id,
        marketplace=case.listing.marketplace,
        text=render_notice(evidence, settings, now),
        evidence=evidence,
        created_by=actor,
        created_at=now,
        checks=0,
    )
    session.add(notice)
    if case.status == CaseStatus.CONFIRMED:
        transition(session, case.id, CaseStatus.TAKEDOWN_REQUESTED, actor, "takedown notice prepared")
    session.flush()
    return notice


def latest_notice(session: Session, case_id: int) -> TakedownNotice:
    """The case's newest notice.

    Raises:
        NotFoundError: No case has this id, or it has no notice yet.
    """
    get_case(session, case_id)
    notice = session.scalar(
        select(TakedownNotice)
        .where(TakedownNotice.case_id == case_id)
        .order_by(TakedownNotice.id.desc())
        .limit(1)
    )
    if notice is None:
        raise NotFoundError(f"case {case_id} has no takedown notice yet")
    return notice


def mark_sent(session: Session, case_id: int, actor: str, note: str | None = None) -> TakedownNotice:
    """Records that the newest notice was sent, moves the case to ``takedown_sent`` and queues a re-check.

    Raises:
        NotFoundError: No case has this id.
        ConflictError: The case's takedown is not requested (or was already sent), or it has no notice.
    """
    case = get_case(session, case_id)
    if case.status != CaseStatus.TAKEDOWN_REQUESTED:
        raise ConflictError(
            f"case {case.id} is {case.status}; only a case whose takedown is requested can be marked sent"
        )
    try:
        notice = latest_notice(session, case_id)
    except NotFoundError:
        raise ConflictError(f"case {case.id} has no takedown notice; prepare one first") from None
    transition(session, case_id, CaseStatus.TAKEDOWN_SENT, actor, note)
    notice.sent_at = utcnow()
    notice.sent_by = actor
    enqueue(session, KIND_RECHECK_TAKEDOWN, {"case_id": case_id})
    session.flush()
    return notice


def record_recheck(session: Session, case_id: int, listing_gone: bool, actor: str = "worker") -> Case:
    """Records a look at a listing a takedown was sent for; marks the case ``removed`` when it is gone.

    Raises:
        NotFoundError: No case has this id.
        ConflictError: The case is not waiting for a removal.
    """
    case = get_case(session, case_id)
    if case.status != CaseStatus.TAKEDOWN_SENT:
        raise ConflictError(f"case {case.id} is {case.status}, not waiting for a removal")
    now = utcnow()
    notice = session.scalar(
        select(TakedownNotice)
        .where(TakedownNotice.case_id == case_id, TakedownNotice.sent_at.is_not(None))
        .order_by(TakedownNotice.id.desc())
        .limit(1)
    )
    if notice is not None:
        notice.last_checked_at = now
        notice.checks += 1
    if listing_gone:
        if notice is not None:
            notice.removed_at = now
        listing = case.listing
        if listing.status != "gone":
            listing.status = "gone"
            listing.gone_at = now
        transition(session, case_id, CaseStatus.REMOVED, actor, "the listing is gone")
    session.flush()
    return case


def enqueue_rechecks(session: Session) -> int:
    """Queues a re-check for every sent takedown that has none waiting; returns how many were queued."""
    waiting = {
        int(payload.get("case_id", -1))
        for payload in session.scalars(
            select(WorkItem.payload).where(
                WorkItem.kind == KIND_RECHECK_TAKEDOWN, WorkItem.status.in_([PENDING, CLAIMED])
            )
        )
    }
    queued = 0
    for case_id in session.scalars(select(Case.id).where(Case.status == CaseStatus.TAKEDOWN_SENT.value)):
        if case_id not in waiting:
            enqueue(session, KIND_RECHECK_TAKEDOWN, {"case_id": case_id})
            queued += 1
    return queued


#: How long to wait before looking again at a listing that is still up after a takedown.
RECHECK_DELAY_SECONDS = 6 * 3600
#: Statuses that say a listing page is gone for good.
GONE_STATUSES = frozenset({404, 410})


def recheck_by_http_status(context: WorkContext) -> None:
    """The default ``recheck_takedown`` handler: the listing is gone when its page answers 404 or 410.

    Marketplaces that keep a "this listing has ended" page at 200 need a page-aware handler; the
    crawlers register one for their adapters with ``registry.register(KIND_RECHECK_TAKEDOWN, ...,
    replace=True)``. A listing still up is looked at again after :data:`RECHECK_DELAY_SECONDS`.

    Raises:
        FetchError: The page could not be fetched, or answered neither a page nor "gone" (retried).
    """
    session = context.session
    case = get_case(session, int(context.item.payload["case_id"]))
    if case.status != CaseStatus.TAKEDOWN_SENT:
        return  # decided by hand meanwhile
    resource = fetch_url(
        case.listing.url, max_bytes=2 * 1024 * 1024, settings=context.settings, accept="text/html"
    )
    if resource.status in GONE_STATUSES:
        record_recheck(session, case.id, listing_gone=True)
        return
    if resource.status >= 400:
        raise FetchError(f"{case.listing.url} answered {resource.status}; will look again")
    record_recheck(session, case.id, listing_gone=False)
    enqueue(session, KIND_RECHECK_TAKEDOWN, {"case_id": case.id}, delay_seconds=RECHECK_DELAY_SECONDS)
