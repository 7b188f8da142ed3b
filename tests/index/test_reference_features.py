"""The reference photos' local features, made once from the stored copies and kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hallmark.errors import HallmarkError
from index.catalog import ReferenceInfo
from index.reference_features import ReferenceFeatures
from vision.geometry import FORESHORTENINGS

DEMO_PACKSHOT = Path(__file__).resolve().parents[2] / "demo" / "catalog" / "images" / "Oatly-Oat-Milk.jpg"


def _reference(reference_id: int, stored_path: str) -> ReferenceInfo:
    return ReferenceInfo(
        reference_id=reference_id,
        product_id=reference_id,
        sku=f"SKU-{reference_id}",
        name="Oat milk",
        brand="Oatly",
        source_path=stored_path,
        stored_path=stored_path,
        phash=0,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    shutil.copy(DEMO_PACKSHOT, tmp_path / "packshot.jpg")
    return tmp_path


def test_features_and_foreshortened_views_are_made_once_and_then_kept(home: Path) -> None:
    cache = ReferenceFeatures(home)
    reference = _reference(1, "packshot.jpg")

    photo, views = cache.get(reference), cache.foreshortened(reference)
    (home / "packshot.jpg").unlink()  # from now on only the cache can answer

    assert cache.get(reference) is photo
    assert len(views) == len(FORESHORTENINGS)
    assert all(kept is view for kept, view in zip(cache.foreshortened(reference), views, strict=True))


def test_the_least_recently_used_features_are_dropped_first(home: Path) -> None:
    cache = ReferenceFeatures(home, entries=3)
    first, second = _reference(1, "packshot.jpg"), _reference(2, "packshot.jpg")
    kept = cache.get(first)
    cache.foreshortened(second)  # two entries, one per view: the cache is full
    assert cache.get(first) is kept
    cache.get(second)  # the fourth entry drops the least recently used: a view of the second photo
    (home / "packshot.jpg").unlink()

    assert cache.get(first) is kept
    with pytest.raises(HallmarkError):
        cache.foreshortened(second)


def test_a_missing_stored_photo_is_a_clear_error(home: Path) -> None:
    cache = ReferenceFeatures(home)
    with pytest.raises(HallmarkError):
        cache.foreshortened(_reference(3, "gone.jpg"))
