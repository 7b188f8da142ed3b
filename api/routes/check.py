"""``POST /v1/check`` (partners), its records, and the public buyer check."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile

from api.deps import AnyKey, IdPath, PublicRateLimit, SessionDep, StateDep
from api.errors import error_responses
from api.imaging import check_image, decode_upload
from api.schemas import CheckList, CheckRecordPublic, CheckResponse, CheckUrlRequest
from api.state import AppState
from hallmark.checks import get_check, list_checks, record_check
from hallmark.errors import FetchError, InvalidRequestError, UnsupportedMediaTypeError
from hallmark.keys import Principal
from hallmark.safe_fetch import fetch_url

router = APIRouter(tags=["check"])

_CHECK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP."},
                        "top_k": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
                    },
                }
            },
            "application/json": {"schema": CheckUrlRequest.model_json_schema()},
        },
    }
}


def _base_url(state: AppState, request: Request) -> str:
    return state.settings.public_base_url or str(request.base_url)


def _top_k(value: Any) -> int:
    if value is None or value == "":
        return 5
    try:
        top_k = int(str(value))
    except ValueError:
        raise InvalidRequestError("top_k must be a whole number from 1 to 100") from None
    if not 1 <= top_k <= 100:
        raise InvalidRequestError("top_k must be a whole number from 1 to 100")
    return top_k


async def _read_upload(request: Request) -> tuple[str, bytes, int]:
    try:
        form = await request.form(max_files=1, max_fields=5)
    except Exception as error:  # malformed multipart: the parser's own error types vary by version
        raise InvalidRequestError(f"malformed multipart body: {error}") from None
    image = form.get("image")
    if not isinstance(image, StarletteUploadFile):
        raise InvalidRequestError("send the photo as the multipart file field 'image'")
    data = await image.read()
    await form.close()
    return image.filename or "upload", data, _top_k(form.get("top_k"))


def _fetch(state: AppState, url: str) -> bytes:
    resource = fetch_url(
        url, max_bytes=state.settings.max_image_bytes, settings=state.settings, accept="image/*"
    )
    if resource.status >= 400:
        raise FetchError(f"{url} answered HTTP {resource.status}")
    return resource.body


def _check_and_record(
    state: AppState, principal: Principal | None, name: str, data: bytes, top_k: int, base_url: str
) -> dict[str, Any]:
    image = decode_upload(data, state.settings)
    answer = check_image(state.matcher, image, name, top_k, base_url)
    if principal is not None:
        with state.database.session() as session:
            record = record_check(session, principal, name, image.sha256, answer)
            answer["check_id"] = record.id
    return answer


@router.post(
    "/v1/check",
    response_model=CheckResponse,
    openapi_extra=_CHECK_BODY,
    responses=error_responses(400, 401, 403, 413, 415, 422, 429),
)
async def check(request: Request, principal: AnyKey, state: StateDep) -> dict[str, Any]:
    """Check a photo (multipart field image, or JSON image_url) against the catalog."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        name, data, top_k = await _read_upload(request)
    elif media_type == "application/json":
        try:
            raw = json.loads(await request.body())
            body = CheckUrlRequest.model_validate(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidRequestError("the body is not valid JSON") from None
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, item['loc'])) or 'body'}: {item['msg']}" for item in error.errors()
            )
            raise InvalidRequestError(f"invalid request: {problems}") from None
        # The answer names the image by the URL exactly as the caller wrote it.
        name = str(raw["image_url"])
        top_k = body.top_k
        data = await run_in_threadpool(_fetch, state, name)
    else:
        raise UnsupportedMediaTypeError(
            "send multipart/form-data with an 'image' file, or JSON with 'image_url'"
        )
    base_url = _base_url(state, request)
    return await run_in_threadpool(_check_and_record, state, principal, name, data, top_k, base_url)


@router.post(
    "/v1/public/check",
    response_model=CheckResponse,
    dependencies=[PublicRateLimit],
    responses=error_responses(400, 413, 415, 422, 429),
)
def public_check(
    request: Request,
    state: StateDep,
    image: Annotated[UploadFile, File(description="The photo: JPEG, PNG or WebP.")],
    top_k: Annotated[int, Form(ge=1, le=20)] = 3,
) -> dict[str, Any]:
    """Check a photo without a key (buyers); rate-limited per client address."""
    data = image.file.read(state.settings.max_image_bytes + 1)
    return _check_and_record(state, None, image.filename or "upload", data, top_k, _base_url(state, request))


def _record_public(record: Any) -> CheckRecordPublic:
    result = dict(record.result)
    result["check_id"] = record.id
    return CheckRecordPublic(
        id=record.id,
        image=record.image,
        verdict=record.verdict,
        score=record.score,
        created_at=record.created_at,
        result=CheckResponse.model_validate(result),
    )


@router.get("/v1/checks", response_model=CheckList, responses=error_responses(401, 403, 422, 429))
def checks(
    principal: AnyKey,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CheckList:
    """List the checks this key made (an admin sees every key's)."""
    rows, total = list_checks(session, principal, limit, offset)
    return CheckList(total=total, items=[_record_public(row) for row in rows])


@router.get(
    "/v1/checks/{check_id}",
    response_model=CheckRecordPublic,
    responses=error_responses(401, 403, 404, 422, 429),
)
def read_check(check_id: IdPath, principal: AnyKey, session: SessionDep) -> CheckRecordPublic:
    """Read one of this key's checks again."""
    return _record_public(get_check(session, check_id, principal))
