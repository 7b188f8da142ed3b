"""API keys: create (shown once), list and revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AdminKey, IdPath, SessionDep
from api.errors import error_responses
from api.schemas import KeyCreate, KeyCreated, KeyPublic
from hallmark.keys import create_key, list_keys, revoke_key

router = APIRouter(tags=["keys"])


@router.post(
    "/v1/keys", response_model=KeyCreated, status_code=201, responses=error_responses(401, 403, 422, 429)
)
def create(body: KeyCreate, _: AdminKey, session: SessionDep) -> KeyCreated:
    """Create an API key; the key is in this answer only."""
    info, key = create_key(session, body.role, body.name)
    return KeyCreated(**KeyPublic.model_validate(info, from_attributes=True).model_dump(), key=key)


@router.get("/v1/keys", response_model=list[KeyPublic], responses=error_responses(401, 403, 422, 429))
def list_all(
    _: AdminKey, session: SessionDep, include_revoked: Annotated[bool, Query()] = False
) -> list[KeyPublic]:
    """List API keys (never the keys themselves)."""
    return [
        KeyPublic.model_validate(info, from_attributes=True) for info in list_keys(session, include_revoked)
    ]


@router.delete(
    "/v1/keys/{key_id}", response_model=KeyPublic, responses=error_responses(401, 403, 404, 422, 429)
)
def revoke(key_id: IdPath, _: AdminKey, session: SessionDep) -> KeyPublic:
    """Revoke an API key at once."""
    return KeyPublic.model_validate(revoke_key(session, key_id), from_attributes=True)
