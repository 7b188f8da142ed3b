"""Key figures: flags, precision, takedowns, removals, serial look-ups, listings scanned."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep, StaffKey
from api.errors import error_responses
from api.schemas import DailyFlags, KpisPublic
from hallmark.kpis import compute_kpis

router = APIRouter(tags=["kpis"])


@router.get("/v1/kpis", response_model=KpisPublic, responses=error_responses(401, 403, 422, 429))
def kpis(_: StaffKey, session: SessionDep, days: Annotated[int, Query(ge=1, le=366)] = 30) -> KpisPublic:
    """Report the programme's key figures over the last days."""
    figures = compute_kpis(session, days)
    return KpisPublic(
        since=figures.since,
        days=figures.days,
        flags=figures.flags,
        flags_per_day=[DailyFlags(day=item.day, flags=item.count) for item in figures.flags_per_day],
        reviewed=figures.reviewed,
        precision=figures.precision,
        takedowns_sent=figures.takedowns_sent,
        removed=figures.removed,
        median_hours_to_removal=figures.median_hours_to_removal,
        serial_lookups=figures.serial_lookups,
        suspicious_serial_lookups=figures.suspicious_serial_lookups,
        listings_scanned=figures.listings_scanned,
        open_cases=figures.open_cases,
    )
