"""Checking files in batches: input order, unreadable files in place, the next batch embedded ahead."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hallmark.settings import Settings
from index.checking import check_paths, collect_images
from index.matcher import Matcher, result_to_json
from index.service import open_catalog
from models.spec import LISTING_INPUT_SIZE
from vision.decode import read_image

DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Matcher:
    settings = Settings(home=tmp_path_factory.mktemp("home"), model_cache=model_cache)
    catalog = open_catalog(settings)
    catalog.import_csv(DEMO / "catalog" / "catalog.csv")
    return Matcher(catalog)


def test_batches_come_back_in_input_order_with_unreadable_files_in_place(
    matcher: Matcher, tmp_path: Path
) -> None:
    photos = sorted((DEMO / "listings").glob("*.jpg"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    images = [(photo.name, photo) for photo in photos[:3]]
    images += [("broken.jpg", broken), ("missing.jpg", tmp_path / "missing.jpg")]
    images += [(photo.name, photo) for photo in photos[3:]]

    outcomes = list(check_paths(matcher, images, top_k=3, batch_size=2))

    assert [outcome.name for outcome in outcomes] == [name for name, _ in images]
    failed = {outcome.name for outcome in outcomes if outcome.result is None}
    assert failed == {"broken.jpg", "missing.jpg"}
    assert all(outcome.error for outcome in outcomes if outcome.result is None)
    for outcome in outcomes:
        if outcome.result is not None:
            alone = matcher.check(
                [read_image(DEMO / "listings" / outcome.name, min_side=LISTING_INPUT_SIZE)], 3
            )
            assert result_to_json("x", outcome.result) == result_to_json("x", alone[0])


def test_nothing_to_check_yields_nothing(matcher: Matcher) -> None:
    assert list(check_paths(matcher, [], top_k=3, batch_size=4)) == []


def test_a_folder_expands_to_its_images_sorted(tmp_path: Path) -> None:
    for name in ("b.jpg", "a.PNG", "notes.txt"):
        shutil.copy(DEMO / "listings" / "unrelated-clothes.jpg", tmp_path / name)
    found = collect_images([str(tmp_path), str(tmp_path / "absent.jpg")])
    assert [path.name for _, path in found] == ["a.PNG", "b.jpg", "absent.jpg"]
