"""Takedown notices: prepare one for a confirmed case, read it as text or JSON, mark it sent."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.deps import IdPath, SessionDep, SettingsDep, StaffKey
from api.errors import error_responses
from api.schemas import SentRequest, TakedownNoticePublic
from hallmark.db import TakedownNotice
from hallmark.takedowns import latest_notice, mark_sent, prepare_notice

router = APIRouter(tags=["takedowns"])
_ERRORS = error_responses(401, 403, 404, 409, 422, 429)


def _public(notice: TakedownNotice) -> TakedownNoticePublic:
    return TakedownNoticePublic.model_validate(notice, from_attributes=True)


@router.post(
    "/v1/cases/{case_id}/takedown", response_model=TakedownNoticePublic, status_code=201, responses=_ERRORS
)
def prepare(
    case_id: IdPath, principal: StaffKey, session: SessionDep, settings: SettingsDep
) -> TakedownNoticePublic:
    """Write the takedown notice for a confirmed case (the case moves to takedown_requested)."""
    return _public(prepare_notice(session, case_id, principal.name, settings))


@router.get(
    "/v1/cases/{case_id}/takedown",
    response_model=TakedownNoticePublic,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **_ERRORS},
)
def read_notice(
    case_id: IdPath,
    _: StaffKey,
    session: SessionDep,
    format: Annotated[
        Literal["json", "text"], Query(description="json (default) or the notice's text")
    ] = "json",
) -> TakedownNoticePublic | PlainTextResponse:
    """Read the case's newest takedown notice, as JSON or as the text to send."""
    notice = latest_notice(session, case_id)
    if format == "text":
        return PlainTextResponse(notice.text)
    return _public(notice)


@router.post("/v1/cases/{case_id}/takedown/sent", response_model=TakedownNoticePublic, responses=_ERRORS)
def sent(
    case_id: IdPath, body: SentRequest, principal: StaffKey, session: SessionDep
) -> TakedownNoticePublic:
    """Record that the notice was sent; crawls then re-check the listing until it is gone."""
    return _public(mark_sent(session, case_id, principal.name, body.note))
