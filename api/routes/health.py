"""``GET /healthz``: is the process up and the database reachable."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import SessionDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(session: SessionDep) -> Health:
    """Report that the service and its database answer."""
    session.execute(text("SELECT 1"))
    return Health(status="ok", database="ok")
