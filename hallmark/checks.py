"""Partners' check records: each API check is kept for its caller, and only its caller, to read again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hallmark.db import CheckRecord, utcnow
from hallmark.errors import NotFoundError, PermissionDeniedError
from hallmark.keys import Principal
from hallmark.roles import Role


def record_check(
    session: Session, principal: Principal | None, image: str, image_sha256: str, result: dict[str, Any]
) -> CheckRecord:
    """Stores one check's answer under the key that asked (None: the public buyer check)."""
    record = CheckRecord(
        api_key_id=principal.key_id if principal is not None else None,
        image=image,
        image_sha256=image_sha256,
        verdict=str(result["verdict"]),
        score=float(result["score"]),
        result=result,
        created_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return record


def get_check(session: Session, check_id: int, principal: Principal) -> CheckRecord:
    """A check record, if ``principal`` may see it: its own, or any for an admin.

    Raises:
        NotFoundError: No check has this id.
        PermissionDeniedError: The check belongs to another key.
    """
    record = session.get(CheckRecord, check_id)
    if record is None:
        raise NotFoundError(f"no check with id {check_id}")
    if principal.role != Role.ADMIN and record.api_key_id != principal.key_id:
        raise PermissionDeniedError("this check belongs to another API key")
    return record


def list_checks(
    session: Session, principal: Principal, limit: int, offset: int
) -> tuple[list[CheckRecord], int]:
    """The checks ``principal`` may see, newest first, and how many there are."""
    conditions = [] if principal.role == Role.ADMIN else [CheckRecord.api_key_id == principal.key_id]
    total = session.scalar(select(func.count()).select_from(CheckRecord).where(*conditions)) or 0
    rows = session.scalars(
        select(CheckRecord).where(*conditions).order_by(CheckRecord.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total
