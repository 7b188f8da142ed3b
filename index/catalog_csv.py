"""Parsing and validating catalog CSV files (``sku,name,brand,image`` and optional columns)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import cast

from hallmark.db.catalog import REFERENCE_ORIGINS, ReferenceOrigin
from hallmark.errors import CatalogError

REQUIRED_COLUMNS = ("sku", "name", "brand", "image")
OPTIONAL_COLUMNS = ("msrp", "currency", "description", "release_date", "batch_size", "origin")
MAX_SKU_LENGTH = 128


@dataclass(frozen=True)
class ProductFields:
    """A product's fields as one catalog row gives them."""

    sku: str
    name: str
    brand: str
    msrp: Decimal | None = None
    currency: str | None = None
    description: str | None = None
    release_date: date | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class CatalogRow:
    """One valid row: a product and the path of one of its photos.

    Attributes:
        origin: Where the photo came from (``catalog`` unless the row's ``origin`` column says
            ``confirmed``: a listing photo a reviewer confirmed, e.g. exported from another tool).
    """

    line: int
    product: ProductFields
    image_as_given: str
    image_path: Path
    origin: str = "catalog"


@dataclass(frozen=True)
class RowError:
    """A row that was skipped, with its line number in the file and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _optional(raw: dict[str, str | None], column: str) -> str | None:
    value = (raw.get(column) or "").strip()
    return value or None


def parse_origin(text: str | None) -> ReferenceOrigin:
    """A reference photo's origin as a catalog row or an upload gives it (empty: ``catalog``).

    Raises:
        ValueError: It is not one of :data:`hallmark.db.catalog.REFERENCE_ORIGINS`.
    """
    origin = (text or "").strip().lower() or "catalog"
    if origin not in REFERENCE_ORIGINS:
        raise ValueError(f"origin {origin!r} is not one of {', '.join(REFERENCE_ORIGINS)}")
    return cast(ReferenceOrigin, origin)


def parse_product_fields(raw: dict[str, str | None]) -> ProductFields:
    """Validates a row's product columns.

    Raises:
        ValueError: With a message naming the bad column.
    """
    values = {column: (raw.get(column) or "").strip() for column in REQUIRED_COLUMNS}
    for column in ("sku", "name", "brand"):
        if not values[column]:
            raise ValueError(f"column {column!r} is empty")
    if len(values["sku"]) > MAX_SKU_LENGTH:
        raise ValueError(f"sku is longer than {MAX_SKU_LENGTH} characters")
    msrp_text = _optional(raw, "msrp")
    msrp = None
    if msrp_text is not None:
        try:
            msrp = Decimal(msrp_text)
        except InvalidOperation:
            raise ValueError(f"msrp {msrp_text!r} is not a number") from None
        if not msrp.is_finite() or msrp < 0:
            raise ValueError(f"msrp {msrp_text!r} must be a non-negative number")
    currency = _optional(raw, "currency")
    if currency is not None:
        currency = currency.upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValueError(f"currency {currency!r} is not a three-letter ISO 4217 code")
    release_text = _optional(raw, "release_date")
    release_date = None
    if release_text is not None:
        try:
            release_date = date.fromisoformat(release_text)
        except ValueError:
            raise ValueError(f"release_date {release_text!r} is not a date (YYYY-MM-DD)") from None
    batch_text = _optional(raw, "batch_size")
    batch_size = None
    if batch_text is not None:
        try:
            batch_size = int(batch_text)
        except ValueError:
            raise ValueError(f"batch_size {batch_text!r} is not a whole number") from None
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
    return ProductFields(
        sku=values["sku"],
        name=values["name"],
        brand=values["brand"],
        msrp=msrp,
        currency=currency,
        description=_optional(raw, "description"),
        release_date=release_date,
        batch_size=batch_size,
    )


def read_catalog_csv(path: Path) -> Iterator[CatalogRow | RowError]:
    """Yields each data row of a catalog CSV as a valid row or the reason it is skipped.

    Image paths are taken relative to the CSV file's folder. Rows of one SKU must agree on the
    product's fields; a row that contradicts an earlier one is skipped.

    Raises:
        CatalogError: The file cannot be read as CSV or lacks a required column.
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise CatalogError(f"cannot read {path}: {error.strerror}") from error
    with handle:
        try:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in (reader.fieldnames or [])]
        except (csv.Error, UnicodeDecodeError) as error:
            raise CatalogError(f"{path} is not a readable CSV file: {error}") from error
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            raise CatalogError(
                f"{path}: missing required column(s) {', '.join(missing)}; "
                f"expected a header with {','.join(REQUIRED_COLUMNS)}"
            )
        reader.fieldnames = header
        first_seen: dict[str, tuple[int, ProductFields]] = {}
        base = path.resolve().parent
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as error:
                raise CatalogError(f"{path}: line {reader.line_num}: {error}") from error
            line = reader.line_num
            if None in raw:
                yield RowError(line, "the row has more fields than the header")
                continue
            try:
                product = parse_product_fields(raw)
            except ValueError as error:
                yield RowError(line, str(error))
                continue
            image = (raw.get("image") or "").strip()
            if not image:
                yield RowError(line, "column 'image' is empty")
                continue
            try:
                origin = parse_origin(raw.get("origin"))
            except ValueError as error:
                yield RowError(line, str(error))
                continue
            earlier = first_seen.get(product.sku)
            if earlier is not None and earlier[1] != product:
                yield RowError(line, f"sku {product.sku!r} has different product fields on line {earlier[0]}")
                continue
            first_seen.setdefault(product.sku, (line, product))
            yield CatalogRow(line, product, image, (base / image).resolve(), origin)
