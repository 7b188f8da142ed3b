"""Typed dependencies: the app's state, a database session, and the caller with a role check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.state import AppState
from hallmark.errors import AuthenticationError, PermissionDeniedError
from hallmark.keys import Principal, authenticate
from hallmark.roles import ADMINS, EVERYONE, STAFF, Role
from hallmark.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer hm_...`")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.hallmark
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session in a transaction, committed after the route returns (before the answer is sent)."""
    with state.database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def client_address(request: Request) -> str:
    """The client's address, for per-address limits and serial look-ups.

    Behind a reverse proxy, run uvicorn with ``--forwarded-allow-ips`` so that this is the real client.
    """
    return request.client.host if request.client is not None else "unknown"


ClientAddressDep = Annotated[str, Depends(client_address)]


def require(roles: frozenset[Role]) -> Callable[..., Principal]:
    """A dependency that authenticates the caller, checks the role and counts the request."""

    def dependency(
        state: StateDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise AuthenticationError("an API key is required: Authorization: Bearer KEY")
        with state.database.session() as session:
            principal = authenticate(session, credentials.credentials)
        state.limiter.hit_key(principal.key_id)
        if principal.role not in roles:
            allowed = " or ".join(sorted(role.value for role in roles))
            raise PermissionDeniedError(
                f"this needs the {allowed} role; this key is a {principal.role.value}"
            )
        return principal

    return dependency


def public_rate_limit(state: StateDep, address: ClientAddressDep) -> None:
    """Counts an anonymous request against the client address's budget."""
    state.limiter.hit_address(address)


#: The caller, any role.
AnyKey = Annotated[Principal, Depends(require(EVERYONE))]
#: The caller, a reviewer or an admin.
StaffKey = Annotated[Principal, Depends(require(STAFF))]
#: The caller, an admin.
AdminKey = Annotated[Principal, Depends(require(ADMINS))]
PublicRateLimit = Depends(public_rate_limit)

#: An object id in a path: integers that fit the databases' INTEGER columns.
IdPath = Annotated[int, Path(ge=1, le=2_147_483_647)]
