"""The catalog: imports are additive and idempotent, removals follow through to the index."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from hallmark.db import Product, ReferenceImage
from hallmark.errors import NotFoundError
from hallmark.settings import Settings
from index.catalog import INDEX_LAYOUT, REFERENCE_VIEWS, VIEW_ID_OFFSET, Catalog, reference_ids_of, view_ids
from index.faiss_store import VectorIndex
from index.service import open_catalog
from vision.decode import read_image
from vision.preprocess import plain_backdrop, tilt_for_retrieval

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "demo" / "catalog"


@pytest.fixture
def settings(tmp_path: Path, model_cache: Path) -> Settings:
    return Settings(home=tmp_path / "home", model_cache=model_cache)


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    return open_catalog(settings)


def _photo(path: Path, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).resize((256, 256)).save(path)


def _catalog_csv(folder: Path, rows: list[str]) -> Path:
    path = folder / "catalog.csv"
    path.write_text("sku,name,brand,image\n" + "\n".join(rows) + "\n")
    return path


def test_importing_the_demo_catalog_indexes_every_photo(catalog: Catalog) -> None:
    report = catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    assert report.errors == []
    stats = catalog.stats()
    assert stats.products == stats.references == stats.indexed == report.references_added == 14


def test_importing_the_same_file_again_changes_nothing(catalog: Catalog) -> None:
    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    version = catalog.version()
    again = catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    assert (again.references_added, again.references_unchanged) == (0, 14)
    assert catalog.version() == version
    assert catalog.stats().indexed == 14


def test_imports_are_additive_and_a_sku_may_have_several_photos(tmp_path: Path, catalog: Catalog) -> None:
    for seed in range(3):
        _photo(tmp_path / f"{seed}.png", seed)
    catalog.import_csv(_catalog_csv(tmp_path, ["A,Shoe,Acme,0.png", "A,Shoe,Acme,1.png"]))
    catalog.import_csv(_catalog_csv(tmp_path, ["B,Hat,Acme,2.png"]))
    stats = catalog.stats()
    assert (stats.products, stats.references, stats.indexed) == (2, 3, 3)


def test_a_row_with_an_unreadable_image_is_skipped_whole(tmp_path: Path, catalog: Catalog) -> None:
    _photo(tmp_path / "good.png", 1)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    report = catalog.import_csv(
        _catalog_csv(tmp_path, ["A,Shoe,Acme,good.png", "B,Hat,Acme,broken.jpg", "C,Cap,Acme,missing.png"])
    )
    assert [error.line for error in report.errors] == [3, 4]
    assert "broken.jpg" in str(report.errors[0]) and "missing.png" in str(report.errors[1])
    stats = catalog.stats()
    assert (stats.products, stats.references, stats.indexed) == (1, 1, 1)


def test_removing_a_product_removes_its_photos_from_the_index(tmp_path: Path, catalog: Catalog) -> None:
    for seed in range(2):
        _photo(tmp_path / f"{seed}.png", seed)
    catalog.import_csv(_catalog_csv(tmp_path, ["A,Shoe,Acme,0.png", "B,Hat,Acme,1.png"]))
    assert catalog.remove_product("A") == 1
    stats = catalog.stats()
    assert (stats.products, stats.references, stats.indexed) == (1, 1, 1)
    assert {info.sku for info in catalog.load_index().references.values()} == {"B"}
    with pytest.raises(NotFoundError, match="no product with sku 'A'"):
        catalog.remove_product("A")


def test_another_process_sees_an_import_on_its_next_look_up(settings: Settings, catalog: Catalog) -> None:
    observer = Catalog(catalog.database, settings, catalog.embedder)
    assert observer.stats().indexed == 0
    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    assert observer.stats().indexed == 14


def test_a_lost_index_file_is_rebuilt_from_the_database(settings: Settings, catalog: Catalog) -> None:
    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    catalog.index_path.unlink()
    fresh = Catalog(catalog.database, settings, catalog.embedder)
    assert fresh.stats().indexed == 14
    assert catalog.index_path.exists()


def test_an_index_file_of_an_older_layout_is_rebuilt_rather_than_read(
    settings: Settings, catalog: Catalog
) -> None:
    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    current = catalog.load_index()
    # What the tenth session's code wrote: every view of every photo, and a stamp without a layout.
    ids = np.array(sorted(current.references), dtype=np.int64)
    every_view = VectorIndex(current.index.dim)
    every_view.add(view_ids(ids), current.view_vectors(ids))
    every_view.save(catalog.index_path, replace(current.stamp, layout=0))
    stamp_file = catalog.index_path.with_name(catalog.index_path.name + ".json")
    stamp = json.loads(stamp_file.read_text())
    del stamp["layout"]
    stamp_file.write_text(json.dumps(stamp))

    fresh = Catalog(catalog.database, settings, catalog.embedder).load_index()

    assert len(fresh.index) == len(current.index) == 2 * 14 + 2 * 7
    assert VectorIndex.load(catalog.index_path) is not None
    assert json.loads(stamp_file.read_text())["layout"] == INDEX_LAYOUT


def test_a_new_model_re_embeds_every_reference_from_its_stored_photo(
    settings: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    with catalog.database.session() as session:
        before = {
            r.id: np.frombuffer(r.descriptor, dtype=np.float32)
            for r in session.scalars(select(ReferenceImage))
        }
        for reference in session.scalars(select(ReferenceImage)):
            reference.descriptor = np.zeros(catalog.embedder.dim, dtype=np.float32).tobytes()
    monkeypatch.setattr("index.catalog.model_fingerprint", lambda: "next-model")
    fresh = Catalog(catalog.database, settings, catalog.embedder)
    assert fresh.stats().indexed == 14
    with catalog.database.session() as session:
        references = session.scalars(select(ReferenceImage)).all()
        assert {reference.model_fingerprint for reference in references} == {"next-model"}
        for reference in references:
            assert np.allclose(
                np.frombuffer(reference.descriptor, dtype=np.float32), before[reference.id], atol=1e-5
            )


def test_reference_photos_are_kept_in_the_data_directory(tmp_path: Path, settings: Settings) -> None:
    source = tmp_path / "src"
    shutil.copytree(DEMO_CATALOG, source)
    catalog = open_catalog(settings)
    catalog.import_csv(source / "catalog.csv")
    shutil.rmtree(source)
    with catalog.database.session() as session:
        stored = session.scalars(select(ReferenceImage.stored_path)).all()
    assert all((settings.resolved_home / path).is_file() for path in stored)


def test_every_reference_is_indexed_as_itself_and_blurred_and_a_packshot_also_tilted_each_way(
    catalog: Catalog,
) -> None:
    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    loaded = catalog.load_index()
    ids = loaded.index.ids()
    views = [
        sorted(int(i) - view * VIEW_ID_OFFSET for i in ids if i // VIEW_ID_OFFSET == view)
        for view in range(REFERENCE_VIEWS)
    ]
    assert REFERENCE_VIEWS == 4
    assert views[0] == views[1] and len(views[0]) == 14
    assert sorted(set(reference_ids_of(ids).tolist())) == views[0]
    assert catalog.stats().indexed == 14
    tilted_photos = []
    with catalog.database.session() as session:
        for reference in session.scalars(select(ReferenceImage)):
            assert reference.blurred_descriptor is not None and reference.tilted_descriptors is not None
            sharp = np.frombuffer(reference.descriptor, dtype=np.float32)
            soft = np.frombuffer(reference.blurred_descriptor, dtype=np.float32)
            left, right = np.frombuffer(reference.tilted_descriptors, dtype=np.float32).reshape(2, -1)
            assert 0.5 < float(sharp @ soft) < 0.999  # the same photo, but not the same vector
            pixels = read_image(catalog.home / reference.stored_path).pixels
            if plain_backdrop(pixels) is None:  # a photo that fills its frame is not tilted
                assert np.array_equal(left, sharp) and np.array_equal(right, sharp)
            else:
                tilted_photos.append(reference.id)
                assert 0.5 < float(sharp @ left) < 0.999 and 0.5 < float(sharp @ right) < 0.999
                assert float(left @ right) < 0.999
    assert len(tilted_photos) == 7  # the demo's six packshots, and a photo on a dark plain backdrop
    # Only the tilted photos' tilted views are searched: the others' would repeat the photo.
    assert views[2] == views[3] == sorted(tilted_photos)
    assert loaded.tilted_references.tolist() == sorted(tilted_photos)


@pytest.mark.parametrize("column", ["blurred_descriptor", "tilted_descriptors"])
def test_references_from_before_a_view_existed_get_it_on_the_next_load(
    settings: Settings, catalog: Catalog, column: str
) -> None:
    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    with catalog.database.session() as session:
        before = {r.id: r.descriptor for r in session.scalars(select(ReferenceImage))}
        for reference in session.scalars(select(ReferenceImage)):
            setattr(reference, column, None)
    catalog.index_path.unlink()
    fresh = Catalog(catalog.database, settings, catalog.embedder)
    assert fresh.stats().indexed == 14
    assert len(fresh.load_index().index) == 2 * 14 + 2 * 7  # seven photos are tilted
    with catalog.database.session() as session:
        for reference in session.scalars(select(ReferenceImage)):
            assert getattr(reference, column) is not None
            assert np.allclose(
                np.frombuffer(reference.descriptor, dtype=np.float32),
                np.frombuffer(before[reference.id], dtype=np.float32),
                atol=1e-5,
            )


def test_listing_photos_reviewers_confirmed_as_the_product_become_its_reference_photos(
    settings: Settings, catalog: Catalog
) -> None:
    from case_world import DEMO_LISTINGS, add_listing, case_of, run_matching

    from hallmark.cases import CaseStatus, transition
    from hallmark.db import open_database

    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    shop_photo = add_listing(
        settings, DEMO_LISTINGS / "phone-photo-tropicana-apple-juice.jpg", url="https://shop.test/1"
    )
    reused = add_listing(settings, DEMO_LISTINGS / "reused-photo-cropped.jpg", url="https://shop.test/2")
    run_matching(settings)
    database = open_database(settings)
    product_case, copy_case = case_of(database, shop_photo), case_of(database, reused)
    assert (product_case.verdict, copy_case.verdict) == ("product", "copy")
    with database.session() as session:
        for case in (product_case, copy_case):
            transition(session, case.id, CaseStatus.IN_REVIEW, "reviewer")
            transition(session, case.id, CaseStatus.CONFIRMED, "reviewer")
    before = catalog.stats().references

    report = catalog.add_confirmed_photos()

    # The shop photo joins its product's photos; the reused brand photo (a copy) does not.
    assert (report.cases, report.added, report.unchanged, report.errors) == (1, 1, 0, [])
    assert catalog.stats().references == before + 1
    with database.session() as session:
        learned = session.execute(
            select(Product.sku, ReferenceImage.origin)
            .join(ReferenceImage.product)
            .where(ReferenceImage.source_path == f"listing photo confirmed in case {product_case.id}")
        ).all()
    assert [tuple(row) for row in learned] == [("Tropicana-Apple-Juice", "confirmed")]
    confirmed = [info for info in catalog.load_index().references.values() if info.confirmed]
    assert [info.sku for info in confirmed] == ["Tropicana-Apple-Juice"]
    assert catalog.add_confirmed_photos().added == 0  # idempotent
    assert catalog.stats().references == before + 1


def test_a_review_backlog_is_learned_in_one_catalog_change_and_a_lost_photo_is_reported(
    settings: Settings, catalog: Catalog
) -> None:
    from case_world import DEMO_LISTINGS, add_listing, case_of, flag

    from hallmark.cases import CaseStatus, transition
    from hallmark.db import ListingImage, open_database

    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    database = open_database(settings)
    photos = [
        "phone-photo-tropicana-apple-juice.jpg",
        "phone-photo-oatly-oat-milk.jpg",
        "unrelated-produce.jpg",
    ]
    cases = []
    for number, name in enumerate(photos):
        image_id = add_listing(settings, DEMO_LISTINGS / name, url=f"https://shop.test/{number}")
        flag(database, settings, image_id, "Tropicana-Apple-Juice", kind="product")
        cases.append(case_of(database, image_id).id)
        with database.session() as session:
            for status in (CaseStatus.IN_REVIEW, CaseStatus.CONFIRMED):
                transition(session, cases[-1], status, "reviewer")
    with database.session() as session:  # the third photo's stored copy went missing
        lost = session.scalars(select(ListingImage).order_by(ListingImage.id.desc())).first()
        assert lost is not None and lost.stored_path is not None
        (settings.resolved_home / lost.stored_path).unlink()
    version, references = catalog.version(), catalog.stats().references

    report = catalog.add_confirmed_photos()

    assert (report.cases, report.added, report.unchanged) == (3, 2, 0)
    assert len(report.errors) == 1 and report.errors[0].startswith(f"case {cases[2]}: ")
    assert catalog.version() == version + 1  # one change for the whole backlog: matchers reload once
    assert catalog.stats().references == references + 2
    learned = [info.sku for info in catalog.load_index().references.values() if info.confirmed]
    assert learned == ["Tropicana-Apple-Juice", "Tropicana-Apple-Juice"]


def test_a_photo_of_a_packshot_taken_at_an_angle_is_nearer_its_tilted_views(catalog: Catalog) -> None:
    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    loaded = catalog.load_index()
    reference = next(r for r in loaded.references.values() if r.sku == "Tropicana-Apple-Juice")
    pixels = read_image(catalog.home / reference.stored_path).pixels
    # Turned by less than the views' tilt, each way.
    for degrees in (-11.0, 11.0):
        photo = tilt_for_retrieval(pixels, degrees)
        (vector,) = catalog.embedder.embed([photo])
        upright, _, *tilted = loaded.view_vectors(np.array([reference.reference_id])) @ vector
        assert max(tilted) > upright + 0.02


def test_every_view_of_a_photo_reads_back_and_an_untilted_photo_stands_for_its_own_tilted_views(
    catalog: Catalog,
) -> None:
    catalog.import_csv(DEMO_CATALOG / "catalog.csv")
    loaded = catalog.load_index()
    ids = np.array(sorted(loaded.references), dtype=np.int64)
    tilted = np.isin(ids, loaded.tilted_references)
    assert tilted.any() and not tilted.all()

    vectors = loaded.view_vectors(ids).reshape(REFERENCE_VIEWS, len(ids), -1)

    with catalog.database.session() as session:
        for column, reference_id in enumerate(ids.tolist()):
            stored = session.get(ReferenceImage, reference_id)
            assert stored is not None
            assert stored.blurred_descriptor is not None and stored.tilted_descriptors is not None
            expected = stored.descriptor + stored.blurred_descriptor + stored.tilted_descriptors
            assert vectors[:, column].tobytes() == expected
    indexed = loaded.indexed_view_ids(ids)
    assert sorted(indexed.tolist()) == sorted(loaded.index.ids().tolist())
    assert len(indexed) == 2 * len(ids) + 2 * int(tilted.sum())
