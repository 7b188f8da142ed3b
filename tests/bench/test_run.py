"""The benchmark's situations: which photos are references and which are checked."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.run import product_half, product_match_after_review
from bench.splits import in_calibration_split


def _product_data(root: Path) -> Path:
    folder = root / "product-match"
    folder.mkdir(parents=True)
    (folder / "references.csv").write_text(
        "sku,name,brand,image,description\n"
        "Milk,Milk 1 l,Dairy,references/Milk.jpg,\n"
        "Juice,Juice 1 l,Orchard,references/Juice.jpg,\n"
    )
    names = [f"queries/photo-{number}.jpg" for number in range(40)]
    skus = ["Milk", "Juice", ""] * 14
    with (folder / "truth.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "sku"])
        writer.writerows(zip(names, skus, strict=False))
    return root


def test_after_review_the_calibration_half_photos_are_references_and_only_the_rest_is_checked(
    tmp_path: Path,
) -> None:
    data = _product_data(tmp_path / "data")
    (tmp_path / "work").mkdir()
    situation = product_match_after_review(data, tmp_path / "work")

    rows = list(csv.DictReader(situation.catalog_csv.open()))
    catalog_images = {Path(row["image"]).relative_to(data / "product-match").as_posix() for row in rows}
    checked = {name for name, _ in situation.queries}
    assert {"references/Milk.jpg", "references/Juice.jpg"} <= catalog_images
    assert not catalog_images & checked
    assert all(not in_calibration_split(name) for name in checked)
    confirmed = catalog_images - {"references/Milk.jpg", "references/Juice.jpg"}
    assert confirmed and all(in_calibration_split(name) for name in confirmed)
    # Each confirmed photo is a reference of the SKU it shows, with that product's name and brand.
    truth = dict(csv.reader((data / "product-match" / "truth.csv").open()))
    for row in rows:
        image = Path(row["image"]).relative_to(data / "product-match").as_posix()
        if image in confirmed:
            assert row["sku"] == truth[image]
            assert row["brand"] == {"Milk": "Dairy", "Juice": "Orchard"}[row["sku"]]
    # Fruit photos (no SKU) are never references; the held-out ones are checked as no-match queries.
    assert set(situation.negatives) <= checked
    assert set(situation.truth) <= checked


def test_after_review_can_hold_a_few_confirmed_photos_per_product(tmp_path: Path) -> None:
    data = _product_data(tmp_path / "data")
    (tmp_path / "work").mkdir()
    situation = product_match_after_review(data, tmp_path / "work", per_product=1)
    rows = list(csv.DictReader(situation.catalog_csv.open()))
    assert sorted(row["sku"] for row in rows) == ["Juice", "Juice", "Milk", "Milk"]  # packshot + one


@pytest.mark.parametrize("flag", ["--confirmed-per-product", "--originals"])
@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_count_below_one_is_refused_before_anything_runs(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import run, unseen_edits

    command = run.main if flag == "--confirmed-per-product" else unseen_edits.main
    with pytest.raises(SystemExit) as exited:
        command([flag, value])
    assert exited.value.code == 2
    assert f"expected a whole number of at least 1, got '{value}'" in capsys.readouterr().err


def test_after_review_catalog_rows_mark_the_shop_photos_as_confirmed(tmp_path: Path) -> None:
    data = _product_data(tmp_path / "data")
    situation = product_match_after_review(data, tmp_path / "work")
    rows = list(csv.DictReader(situation.catalog_csv.open()))
    for row in rows:
        expected = "catalog" if "/references/" in row["image"] else "confirmed"
        assert row["origin"] == expected


def test_after_review_can_confirm_photos_of_only_half_of_the_products(tmp_path: Path) -> None:
    data = _product_data(tmp_path / "data")
    situation = product_match_after_review(data, tmp_path / "work", half_of_products=True)
    rows = list(csv.DictReader(situation.catalog_csv.open()))
    confirmed = {row["sku"] for row in rows if row["origin"] == "confirmed"}
    assert len(confirmed) == 1 and confirmed == {sku for sku in ("Milk", "Juice") if product_half(0)(sku)}
    assert sorted(row["sku"] for row in rows if row["origin"] == "catalog") == ["Juice", "Milk"]
