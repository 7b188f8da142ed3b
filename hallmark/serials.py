"""The serial registry: import the serials a brand printed, and verify one a buyer types in or scans.

A serial is ``genuine`` when the registry has it, ``unknown`` when it does not, and ``suspicious`` when
it is looked up more often, or from more places, than one real item would be: the sign of a cloned
tag. Every look-up is counted, whatever its result.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hallmark.db import Serial, SerialLookup, utcnow
from hallmark.errors import InvalidRequestError, NotFoundError
from hallmark.settings import Settings

MAX_SERIAL = 128
REQUIRED_COLUMNS = ("sku", "serial")
#: Query parameters that carry the serial in a QR code's URL.
_URL_PARAMETERS = ("serial", "sn", "s", "code")


class SerialResult(StrEnum):
    GENUINE = "genuine"
    UNKNOWN = "unknown"
    SUSPICIOUS = "suspicious"


@dataclass
class SerialImportReport:
    """What an import of ``sku,serial,batch`` rows did."""

    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Verification:
    """The answer to one look-up."""

    serial: str
    result: SerialResult
    sku: str | None
    batch: str | None
    lookups: int
    places: int
    reasons: list[str]


@dataclass(frozen=True)
class SerialInfo:
    """A registered serial and how it has been looked up."""

    serial: str
    sku: str
    batch: str | None
    imported_at: datetime
    lookups: int
    places: int
    last_lookup_at: datetime | None


def canonical_serial(text: str) -> str:
    """The form serials are stored and compared in: no whitespace, upper case.

    Raises:
        InvalidRequestError: Empty, too long, or with control characters.
    """
    serial = "".join(text.split()).upper()
    if not serial:
        raise InvalidRequestError("the serial is empty")
    if len(serial) > MAX_SERIAL:
        raise InvalidRequestError(f"a serial has at most {MAX_SERIAL} characters")
    if not serial.isprintable():
        raise InvalidRequestError("the serial contains control characters")
    return serial


def serial_from_qr(payload: str) -> str:
    """The serial in a QR code's text: the text itself, or the serial parameter or last path part of a URL."""
    text = payload.strip()
    if text.lower().startswith(("http://", "https://")):
        parts = urlsplit(text)
        query = parse_qs(parts.query)
        for name in _URL_PARAMETERS:
            if query.get(name):
                return query[name][0]
        segments = [segment for segment in parts.path.split("/") if segment]
        if segments:
            return segments[-1]
    return text


def import_serials(session: Session, text: str) -> SerialImportReport:
    """Imports ``sku,serial,batch`` CSV text: additive, idempotent, bad rows reported by line.

    Raises:
        InvalidRequestError: The header lacks ``sku`` or ``serial``.
    """
    report = SerialImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise InvalidRequestError(
            f"the serial file lacks the column(s) {', '.join(missing)} (expected sku,serial,batch)"
        )
    reader.fieldnames = columns
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        report.rows += 1
        sku = (raw.get("sku") or "").strip()
        batch = (raw.get("batch") or "").strip() or None
        try:
            serial = canonical_serial(raw.get("serial") or "")
        except InvalidRequestError as error:
            report.errors.append(f"line {line}: {error}")
            continue
        if not sku or len(sku) > 128:
            report.errors.append(f"line {line}: the sku is empty or longer than 128 characters")
            continue
        if batch is not None and len(batch) > 128:
            report.errors.append(f"line {line}: the batch is longer than 128 characters")
            continue
        if serial in seen:
            report.errors.append(f"line {line}: serial {serial} appears twice in the file")
            continue
        seen.add(serial)
        row = session.scalar(select(Serial).where(Serial.serial == serial))
        if row is None:
            session.add(Serial(serial=serial, sku=sku, batch=batch, imported_at=utcnow()))
            report.added += 1
        elif (row.sku, row.batch) != (sku, batch):
            row.sku, row.batch = sku, batch
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return report


def _counts(session: Session, serial_id: int) -> tuple[int, int, datetime | None]:
    lookups, places, last = session.execute(
        select(
            func.count(SerialLookup.id),
            func.count(func.distinct(SerialLookup.place)),
            func.max(SerialLookup.created_at),
        ).where(SerialLookup.serial_id == serial_id)
    ).one()
    return int(lookups), int(places), last


def verify_serial(session: Session, text: str, place: str, source: str, settings: Settings) -> Verification:
    """Verifies a serial and counts the look-up.

    Args:
        text: The serial as typed or read from a QR code.
        place: Where the look-up comes from (a shop, a city, or the client's address).
        source: ``typed`` or ``qr``.
        settings: The thresholds ``serial_max_lookups`` and ``serial_max_places``.

    Raises:
        InvalidRequestError: The serial or place is malformed.
    """
    serial = canonical_serial(text)
    place = " ".join(place.split()).casefold()[:200] or "unknown"
    row = session.scalar(select(Serial).where(Serial.serial == serial))
    lookup = SerialLookup(
        serial_id=row.id if row is not None else None,
        serial_text=serial,
        result=SerialResult.UNKNOWN.value,
        place=place,
        source=source,
        created_at=utcnow(),
    )
    session.add(lookup)
    session.flush()
    if row is None:
        return Verification(
            serial, SerialResult.UNKNOWN, None, None, 0, 0, ["this serial is not in the registry"]
        )
    lookups, places, _ = _counts(session, row.id)
    reasons: list[str] = []
    if lookups > settings.serial_max_lookups:
        reasons.append(f"looked up {lookups} times (more than {settings.serial_max_lookups})")
    if places > settings.serial_max_places:
        reasons.append(f"looked up from {places} places (more than {settings.serial_max_places})")
    result = SerialResult.SUSPICIOUS if reasons else SerialResult.GENUINE
    lookup.result = result.value
    return Verification(serial, result, row.sku, row.batch, lookups, places, reasons)


def serial_info(session: Session, text: str) -> SerialInfo:
    """A registered serial with its look-up counts (for staff; does not count as a look-up).

    Raises:
        NotFoundError: The serial is not registered.
    """
    serial = canonical_serial(text)
    row = session.scalar(select(Serial).where(Serial.serial == serial))
    if row is None:
        raise NotFoundError(f"serial {serial} is not in the registry")
    lookups, places, last = _counts(session, row.id)
    return SerialInfo(row.serial, row.sku, row.batch, row.imported_at, lookups, places, last)
