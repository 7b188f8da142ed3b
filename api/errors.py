"""Our errors, mapped once to HTTP: every user error is a 4xx JSON ``{"detail": message}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from hallmark.errors import AuthenticationError, HallmarkError, RateLimitedError

log = logging.getLogger(__name__)


class ErrorResponse(BaseModel):
    """What every error answer looks like."""

    detail: str


def _hallmark_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HallmarkError)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"detail": error.message}, status_code=error.http_status, headers=headers)


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    # FastAPI answers a list of error objects; ours is one message, the same shape as every other error.
    assert isinstance(error, RequestValidationError)
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body") or "body"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return JSONResponse({"detail": "invalid request: " + "; ".join(problems)}, status_code=422)


def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Maps :class:`HallmarkError` (and its ``http_status``) to JSON answers."""
    app.add_exception_handler(HallmarkError, _hallmark_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


#: The error answers a route may give, for the OpenAPI document (and schemathesis' checks).
def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    descriptions = {
        400: "Malformed request",
        401: "Missing, unknown or revoked API key",
        403: "The key's role may not do this, or the object is someone else's",
        404: "No such object",
        409: "Conflicts with the object's state",
        413: "Too large",
        415: "Unsupported image format",
        422: "Invalid request",
        429: "Rate limited; see Retry-After",
    }
    return {status: {"model": ErrorResponse, "description": descriptions[status]} for status in statuses}
