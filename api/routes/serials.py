"""Serials: import the registry, and verify a serial typed in or read from a QR code in a photo."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile

from api.deps import AdminKey, ClientAddressDep, PublicRateLimit, SessionDep, SettingsDep, StaffKey
from api.errors import error_responses
from api.imaging import decode_upload
from api.schemas import SerialImportResponse, SerialInfoPublic, SerialVerification, SerialVerifyRequest
from hallmark.errors import InvalidRequestError
from hallmark.serials import Verification, import_serials, serial_from_qr, serial_info, verify_serial
from vision.qr import read_qr_codes

router = APIRouter(tags=["serials"])


def _public(verification: Verification, source: str) -> SerialVerification:
    return SerialVerification(
        serial=verification.serial,
        result=verification.result.value,
        sku=verification.sku,
        batch=verification.batch,
        lookups=verification.lookups,
        places=verification.places,
        reasons=verification.reasons,
        source=source,  # type: ignore[arg-type]
    )


@router.post(
    "/v1/serials/import",
    response_model=SerialImportResponse,
    responses=error_responses(401, 403, 413, 422, 429),
)
def import_registry(
    _: AdminKey,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV with columns sku,serial,batch.")],
) -> SerialImportResponse:
    """Import serials from a CSV file (additive; bad rows reported by line)."""
    try:
        text = file.file.read().decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("the serial file must be UTF-8 text") from None
    report = import_serials(session, text)
    return SerialImportResponse(
        rows=report.rows,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        errors=report.errors,
    )


@router.get(
    "/v1/serials/{serial}",
    response_model=SerialInfoPublic,
    responses=error_responses(401, 403, 404, 422, 429),
)
def read_serial(
    serial: Annotated[str, Path(min_length=1, max_length=128)], _: StaffKey, session: SessionDep
) -> SerialInfoPublic:
    """Read a registered serial and how often, and from how many places, it was looked up."""
    return SerialInfoPublic.model_validate(serial_info(session, serial), from_attributes=True)


@router.post(
    "/v1/public/serials/verify",
    response_model=SerialVerification,
    dependencies=[PublicRateLimit],
    responses=error_responses(422, 429),
)
def verify(
    body: SerialVerifyRequest, session: SessionDep, settings: SettingsDep, address: ClientAddressDep
) -> SerialVerification:
    """Verify a serial typed in: genuine, unknown or suspicious (every look-up is counted)."""
    result = verify_serial(session, body.serial, body.place or address, "typed", settings)
    return _public(result, "typed")


@router.post(
    "/v1/public/serials/verify-photo",
    response_model=SerialVerification,
    dependencies=[PublicRateLimit],
    responses=error_responses(400, 413, 415, 422, 429),
)
def verify_photo(
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddressDep,
    image: Annotated[UploadFile, File(description="A photo of the tag's QR code.")],
    place: Annotated[str | None, Form(max_length=200)] = None,
) -> SerialVerification:
    """Verify the serial in a photo of a tag's QR code."""
    decoded = decode_upload(image.file.read(settings.max_image_bytes + 1), settings, for_matching=False)
    codes = read_qr_codes(decoded)
    if not codes:
        raise InvalidRequestError("no QR code could be read in the photo; try a sharper, closer photo")
    result = verify_serial(session, serial_from_qr(codes[0]), place or address, "qr", settings)
    return _public(result, "qr")
