"""Sibling packages: catalog photos of other products that align with a photo on their shared print."""

from __future__ import annotations

from pathlib import Path

import pytest
from sibling_packages import blueberry_packshot, jpeg, vanilla_sibling

from hallmark.settings import Settings
from index.catalog import Catalog, LoadedIndex, ReferenceInfo
from index.catalog_csv import ProductFields
from index.reference_features import ReferenceFeatures
from index.service import open_catalog
from index.siblings import Siblings

DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Catalog:
    """The demo catalog (six packaged products of six brands, eight garments) with a vanilla
    sibling of its Alpro blueberry package."""
    catalog = open_catalog(
        Settings(home=tmp_path_factory.mktemp("siblings") / "data", model_cache=model_cache)
    )
    catalog.import_csv(DEMO / "catalog" / "catalog.csv")
    sibling = ProductFields(sku="Alpro-Vanilla-Soyghurt", name="Alpro Vanilla Soyghurt", brand="Alpro")
    catalog.add_reference(sibling, jpeg(vanilla_sibling(blueberry_packshot())), "vanilla packshot")
    return catalog


def _by_sku(loaded: LoadedIndex) -> dict[str, ReferenceInfo]:
    return {reference.sku: reference for reference in loaded.references.values()}


def test_two_packages_printed_alike_are_each_others_only_siblings(catalog: Catalog) -> None:
    loaded = catalog.load_index()
    siblings = Siblings(loaded, loaded.index, ReferenceFeatures(catalog.home))
    references = _by_sku(loaded)
    found = {
        sku: [sibling.sku for sibling in siblings.of(reference)] for sku, reference in references.items()
    }
    assert found["Alpro-Blueberry-Soyghurt"] == ["Alpro-Vanilla-Soyghurt"]
    assert found["Alpro-Vanilla-Soyghurt"] == ["Alpro-Blueberry-Soyghurt"]
    # The other brands' five packages and the eight garments share no print with anything here.
    others = {sku: skus for sku, skus in found.items() if not sku.startswith("Alpro-")}
    assert len(others) == 13
    assert all(skus == [] for skus in others.values())


def test_a_photo_whose_stored_file_went_missing_has_no_siblings(tmp_path: Path, model_cache: Path) -> None:
    catalog = open_catalog(Settings(home=tmp_path / "data", model_cache=model_cache))
    blueberry = ProductFields(sku="Alpro-Blueberry-Soyghurt", name="Alpro Blueberry Soyghurt", brand="Alpro")
    vanilla = ProductFields(sku="Alpro-Vanilla-Soyghurt", name="Alpro Vanilla Soyghurt", brand="Alpro")
    catalog.add_reference(blueberry, jpeg(blueberry_packshot()), "blueberry packshot")
    catalog.add_reference(vanilla, jpeg(vanilla_sibling(blueberry_packshot())), "vanilla packshot")
    loaded = catalog.load_index()
    references = _by_sku(loaded)
    (catalog.home / references["Alpro-Vanilla-Soyghurt"].stored_path).unlink()
    siblings = Siblings(loaded, loaded.index, ReferenceFeatures(catalog.home))
    assert siblings.of(references["Alpro-Vanilla-Soyghurt"]) == ()
    assert siblings.of(references["Alpro-Blueberry-Soyghurt"]) == ()


def test_siblings_are_found_once_per_photo_and_kept(catalog: Catalog) -> None:
    loaded = catalog.load_index()
    siblings = Siblings(loaded, loaded.index, ReferenceFeatures(catalog.home))
    blueberry = _by_sku(loaded)["Alpro-Blueberry-Soyghurt"]
    first = siblings.of(blueberry)
    assert siblings.of(blueberry) is first
