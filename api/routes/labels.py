"""Reviewer labels, exported for calibration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from api.deps import SessionDep, StaffKey
from api.errors import error_responses
from api.schemas import LabelPublic
from hallmark.errors import InvalidRequestError
from hallmark.labels import labels, labels_csv

router = APIRouter(tags=["labels"])


@router.get(
    "/v1/labels",
    response_model=list[LabelPublic],
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **error_responses(401, 403, 422, 429),
    },
)
def export_labels(
    _: StaffKey,
    session: SessionDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    since: Annotated[datetime | None, Query(description="Only decisions from this time on.")] = None,
) -> list[LabelPublic] | Response:
    """Export reviewer decisions (one row per decision) as JSON or CSV."""
    if since is not None and since.tzinfo is None:
        raise InvalidRequestError("since needs a time zone, e.g. 2024-05-01T00:00:00Z")
    rows = labels(session, since)
    if format == "csv":
        return PlainTextResponse(
            labels_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="hallmark-labels.csv"'},
        )
    return [LabelPublic.model_validate(row) for row in rows]
