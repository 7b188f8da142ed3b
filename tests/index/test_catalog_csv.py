"""Reading catalog CSV files: valid rows come through, bad rows are reported by line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from hallmark.errors import CatalogError
from index.catalog_csv import CatalogRow, RowError, read_catalog_csv


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.csv"
    path.write_text(text)
    return path


def test_rows_with_optional_columns_are_parsed_and_paths_resolved(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "sku,name,brand,image,msrp,currency,description,release_date,batch_size\n"
        "A-1,Shoe,Acme,img/a.jpg,99.50,eur,A shoe,2024-05-01,300\n",
    )
    (row,) = list(read_catalog_csv(path))
    assert isinstance(row, CatalogRow)
    assert row.image_path == (tmp_path / "img" / "a.jpg").resolve()
    assert row.image_as_given == "img/a.jpg"
    assert row.product.msrp == Decimal("99.50") and row.product.currency == "EUR"
    assert row.product.release_date == date(2024, 5, 1) and row.product.batch_size == 300


def test_a_row_says_whether_its_photo_is_a_confirmed_listing_photo(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "sku,name,brand,image,origin\nA-1,Shoe,Acme,a.jpg,\nA-1,Shoe,Acme,shop.jpg,Confirmed\n"
        "A-1,Shoe,Acme,c.jpg,catalog\nA-1,Shoe,Acme,d.jpg,scraped\n",
    )
    items = list(read_catalog_csv(path))
    assert [item.origin for item in items[:3] if isinstance(item, CatalogRow)] == [
        "catalog",
        "confirmed",
        "catalog",
    ]
    assert str(items[3]) == "line 5: origin 'scraped' is not one of catalog, confirmed"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (",Shoe,Acme,a.jpg,,", "'sku' is empty"),
        ("A,Shoe,Acme,,,", "'image' is empty"),
        ("A,Shoe,Acme,a.jpg,cheap,", "msrp 'cheap' is not a number"),
        ("A,Shoe,Acme,a.jpg,-3,", "non-negative"),
        ("A,Shoe,Acme,a.jpg,3,EURO", "three-letter"),
        ("A,Shoe,Acme,a.jpg,3,EUR,extra", "more fields than the header"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_number(tmp_path: Path, row: str, message: str) -> None:
    path = _write(tmp_path, "sku,name,brand,image,msrp,currency\nB,Hat,Acme,b.jpg,,\n" + row + "\n")
    items = list(read_catalog_csv(path))
    assert isinstance(items[0], CatalogRow)
    error = items[1]
    assert isinstance(error, RowError) and error.line == 3 and message in str(error)


def test_dates_and_batch_sizes_are_validated(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "sku,name,brand,image,release_date,batch_size\nA,S,B,a.jpg,01/05/2024,\nC,S,B,c.jpg,,0\n"
    )
    errors = [str(item) for item in read_catalog_csv(path)]
    assert "line 2: release_date '01/05/2024' is not a date (YYYY-MM-DD)" in errors
    assert "line 3: batch_size must be positive" in errors


def test_several_rows_may_share_a_sku_when_they_agree(tmp_path: Path) -> None:
    path = _write(tmp_path, "sku,name,brand,image\nA,Shoe,Acme,1.jpg\nA,Shoe,Acme,2.jpg\nA,Boot,Acme,3.jpg\n")
    items = list(read_catalog_csv(path))
    assert [type(item) for item in items] == [CatalogRow, CatalogRow, RowError]
    assert "different product fields on line 2" in str(items[2])


def test_a_file_without_the_required_columns_is_refused_whole(tmp_path: Path) -> None:
    path = _write(tmp_path, "sku,title,image\nA,Shoe,a.jpg\n")
    with pytest.raises(CatalogError, match="missing required column"):
        list(read_catalog_csv(path))


def test_a_missing_file_or_binary_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        list(read_catalog_csv(tmp_path / "nope.csv"))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x80\x81")
    with pytest.raises(CatalogError):
        list(read_catalog_csv(binary))


def test_a_byte_order_mark_and_spaces_in_the_header_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_text("\ufeffsku, name ,brand,image\nA,Shoe,Acme,a.jpg\n", encoding="utf-8")
    (row,) = list(read_catalog_csv(path))
    assert isinstance(row, CatalogRow) and row.product.name == "Shoe"
