"""The Hallmark HTTP API: ``create_app(settings)`` builds it; ``hallmark serve`` runs it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool

from api.body_limit import BodySizeLimit
from api.errors import install_error_handlers
from api.routes import (
    cases,
    catalog,
    check,
    health,
    keys,
    kpis,
    labels,
    listings,
    sellers,
    serials,
    takedowns,
)
from api.state import AppState
from hallmark.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Counterfeit and copy detection for brands and their partners.

Authenticate with an API key: `Authorization: Bearer hm_...` (`hallmark keys create --role ROLE`).
Roles: **admin** (everything), **reviewer** (the case queue), **partner** (image checks, its own).
Every error is JSON: `{"detail": "message"}`; 429 answers carry `Retry-After`.
"""


def _data_error(request: Request, error: Exception) -> JSONResponse:
    # A value the database cannot store (a NUL character, a number out of range) is the caller's error.
    return JSONResponse({"detail": "a value in the request cannot be stored (out of range or invalid)"}, 422)


def create_app(settings: Settings | None = None, *, preload_model: bool = False) -> FastAPI:
    """Builds the app.

    Args:
        settings: The configuration; the process's (from ``HALLMARK_*``) when None.
        preload_model: Load the model and the index at start-up rather than on the first check.

    Raises:
        ConfigurationError: A setting is invalid (e.g. an unknown rate-limit storage URI); raised here,
            before anything is served.
    """
    settings = settings or get_settings()
    state = AppState.open(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if preload_model:
            await run_in_threadpool(lambda: state.catalog.load_index())
        yield

    app = FastAPI(title="Hallmark", version="1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.hallmark = state
    install_error_handlers(app)
    app.add_exception_handler(DataError, _data_error)
    for module in (health, check, catalog, listings, cases, takedowns, labels, sellers, serials, kpis, keys):
        app.include_router(module.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    return app
