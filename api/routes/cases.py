"""The case queue: list, read, move, assign, annotate and bulk-handle cases, with their audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from api.deps import IdPath, SessionDep, StaffKey
from api.errors import error_responses
from api.schemas import (
    BulkRequest,
    BulkResponse,
    BulkResult,
    CaseEventPublic,
    CaseList,
    CasePublic,
    CaseUpdate,
    NoteRequest,
    RiskReasonPublic,
    TransitionRequest,
)
from hallmark import cases as case_service
from hallmark.cases import TRANSITIONS, CaseFilter, CaseStatus
from hallmark.db import Case
from hallmark.takedowns import mark_sent

router = APIRouter(tags=["cases"])
_ERRORS = error_responses(401, 403, 404, 409, 422, 429)


def case_public(case: Case) -> CasePublic:
    """A case as the API shows it."""
    hours = None
    if case.removed_at is not None and case.takedown_sent_at is not None:
        hours = round((case.removed_at - case.takedown_sent_at).total_seconds() / 3600, 3)
    status = CaseStatus(case.status)
    return CasePublic(
        id=case.id,
        status=status,
        listing_id=case.listing_id,
        listing_url=case.listing.url,
        marketplace=case.listing.marketplace,
        product_id=case.product_id,
        sku=case.product.sku,
        risk_score=case.risk_score,
        risk_reasons=[RiskReasonPublic.model_validate(reason) for reason in case.risk_reasons],
        verdict=case.verdict,
        match_score=case.match_score,
        listing_image_id=case.listing_image_id,
        reference_id=case.reference_id,
        assignee=case.assignee,
        opened_at=case.opened_at,
        updated_at=case.updated_at,
        reviewed_at=case.reviewed_at,
        takedown_sent_at=case.takedown_sent_at,
        removed_at=case.removed_at,
        closed_at=case.closed_at,
        hours_to_removal=hours,
        allowed_transitions=sorted(TRANSITIONS[status]),
    )


def _move(session: Session, case_id: int, to: CaseStatus, actor: str, note: str | None) -> Case:
    # Sending a takedown is more than a state change: the notice is stamped and a re-check queued.
    if to == CaseStatus.TAKEDOWN_SENT:
        mark_sent(session, case_id, actor, note)
        return case_service.get_case(session, case_id)
    return case_service.transition(session, case_id, to, actor, note)


@router.get("/v1/cases", response_model=CaseList, responses=error_responses(401, 403, 422, 429))
def list_cases(
    _: StaffKey,
    session: SessionDep,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    product_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    listing_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    min_risk: Annotated[float | None, Query(ge=0, le=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CaseList:
    """List cases, riskiest first, filtered by status, assignee, product or listing."""
    query = CaseFilter(
        status=status or (),
        assignee=assignee,
        product_id=product_id,
        listing_id=listing_id,
        min_risk=min_risk,
        limit=limit,
        offset=offset,
    )
    rows, total = case_service.list_cases(session, query)
    return CaseList(total=total, items=[case_public(row) for row in rows])


@router.get("/v1/cases/{case_id}", response_model=CasePublic, responses=_ERRORS)
def read_case(case_id: IdPath, _: StaffKey, session: SessionDep) -> CasePublic:
    """Read a case with its risk reasons and the moves allowed from its state."""
    return case_public(case_service.get_case(session, case_id))


@router.post("/v1/cases/{case_id}/transition", response_model=CasePublic, responses=_ERRORS)
def transition_case(
    case_id: IdPath, body: TransitionRequest, principal: StaffKey, session: SessionDep
) -> CasePublic:
    """Move a case to another state (409 with the allowed moves when not allowed)."""
    return case_public(_move(session, case_id, body.to, principal.name, body.note))


@router.patch("/v1/cases/{case_id}", response_model=CasePublic, responses=_ERRORS)
def update_case(case_id: IdPath, body: CaseUpdate, principal: StaffKey, session: SessionDep) -> CasePublic:
    """Assign a case to a reviewer, or unassign it."""
    return case_public(case_service.assign(session, case_id, body.assignee, principal.name))


@router.post("/v1/cases/{case_id}/notes", response_model=CaseEventPublic, status_code=201, responses=_ERRORS)
def add_note(case_id: IdPath, body: NoteRequest, principal: StaffKey, session: SessionDep) -> CaseEventPublic:
    """Add a note to a case's log."""
    event = case_service.add_note(session, case_id, body.text, principal.name)
    return CaseEventPublic.model_validate(event, from_attributes=True)


@router.get("/v1/cases/{case_id}/events", response_model=list[CaseEventPublic], responses=_ERRORS)
def case_events(case_id: IdPath, _: StaffKey, session: SessionDep) -> list[CaseEventPublic]:
    """Read a case's audit log: who did what, when."""
    return [
        CaseEventPublic.model_validate(event, from_attributes=True)
        for event in case_service.case_events(session, case_id)
    ]


@router.post("/v1/cases/bulk", response_model=BulkResponse, responses=error_responses(401, 403, 422, 429))
def bulk_action(body: BulkRequest, principal: StaffKey, session: SessionDep) -> BulkResponse:
    """Apply one move, assignee or note to many cases; each succeeds or fails on its own."""
    outcomes = case_service.bulk(
        session,
        body.case_ids,
        principal.name,
        to=body.to,
        assignee=body.assignee,
        set_assignee=body.set_assignee,
        note=body.note,
        move=_move,
    )
    return BulkResponse(
        results=[BulkResult(case_id=o.case_id, ok=o.ok, status=o.status, error=o.error) for o in outcomes]
    )
