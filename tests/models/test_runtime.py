"""The ONNX export: cached once per weights and code, and equal to the torch network."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from hallmark.settings import Settings
from models import runtime
from models.backbone import MEAN, STD
from models.descriptor import DescriptorNet
from models.export import cached_onnx_model, model_fingerprint
from models.runtime import Embedder
from models.spec import CATALOG_INPUT_SIZE, DESCRIPTOR_DIM, LISTING_INPUT_SIZE
from vision.preprocess import to_batch


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return [data.chelsea(), data.astronaut(), data.coffee(), data.rocket()]


def test_onnxruntime_agrees_with_torch_within_1e_4(photos: list[np.ndarray], model_cache: Path) -> None:
    batch = to_batch(photos, CATALOG_INPUT_SIZE, MEAN, STD)
    with torch.inference_mode():
        expected = DescriptorNet().eval()(torch.from_numpy(batch)).numpy()
    actual = Embedder(Settings(model_cache=model_cache)).embed_batch(batch)
    assert actual.shape == (len(photos), DESCRIPTOR_DIM)
    assert np.abs(actual - expected).max() < 1e-4


def test_descriptors_are_unit_length_and_tell_photos_apart(
    photos: list[np.ndarray], model_cache: Path
) -> None:
    vectors = Embedder(Settings(model_cache=model_cache)).embed(photos)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[np.triu_indices(len(photos), 1)].max() < 0.9


def test_a_photo_and_its_mirror_image_have_similar_descriptors(model_cache: Path) -> None:
    cat = data.chelsea()
    vectors = Embedder(Settings(model_cache=model_cache)).embed([cat, cat[:, ::-1].copy(), data.rocket()])
    assert vectors[0] @ vectors[1] > 0.9 > vectors[0] @ vectors[2]


def test_embedding_nothing_gives_an_empty_matrix(model_cache: Path) -> None:
    assert Embedder(Settings(model_cache=model_cache)).embed([]).shape == (0, DESCRIPTOR_DIM)


def test_the_export_is_built_once_and_reused(model_cache: Path) -> None:
    first = cached_onnx_model(model_cache)
    modified = first.stat().st_mtime_ns
    time.sleep(0.01)
    second = cached_onnx_model(model_cache)
    assert first == second and second.stat().st_mtime_ns == modified
    assert model_fingerprint() in first.name
    assert not [name for name in os.listdir(model_cache) if name.startswith(".export-")]


def test_listings_are_described_larger_than_catalog_photos(
    photos: list[np.ndarray], model_cache: Path
) -> None:
    embedder = Embedder(Settings(model_cache=model_cache))
    listing, _ = embedder.embed_with_regions(photos)
    catalog = embedder.embed(photos)
    assert LISTING_INPUT_SIZE > CATALOG_INPUT_SIZE
    listing_batch = to_batch(photos, LISTING_INPUT_SIZE, MEAN, STD)
    catalog_batch = to_batch(photos, CATALOG_INPUT_SIZE, MEAN, STD)
    assert np.abs(listing - embedder.embed_batch(listing_batch)).max() < 1e-5
    assert np.abs(catalog - embedder.embed_batch(catalog_batch)).max() < 1e-5
    # The same photo at the two sizes: close, but not the same descriptor.
    assert 0.8 < float(np.min(np.sum(listing * catalog, axis=1))) < 0.9999


def test_the_fingerprint_covers_the_input_sizes_and_the_preprocessing() -> None:
    import inspect

    import models.export as export
    import models.spec as spec
    from vision.preprocess import blur_for_retrieval, tilt_for_retrieval, to_batch

    hashed = set(export.descriptor_sources())
    for name in ("CATALOG_INPUT_SIZE", "LISTING_INPUT_SIZE"):
        # Defined in the hashed spec, and only imported by the runtime that uses it.
        assert f"{name} = {getattr(spec, name)}\n" in Path(spec.__file__).read_text()
        assert f"{name} = " not in Path(runtime.__file__).read_text()
    assert Path(spec.__file__).resolve() in hashed
    for function in (to_batch, blur_for_retrieval, tilt_for_retrieval):
        assert Path(inspect.getsourcefile(function) or "").resolve() in hashed


def test_another_input_size_gives_another_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import models.export as export
    import models.spec as spec

    def copies(input_size: int) -> list[Path]:
        folder = tmp_path / str(input_size)
        folder.mkdir()
        written = []
        for source in export.descriptor_sources():
            text = source.read_text()
            if source.name == "spec.py":
                text = text.replace(
                    f"LISTING_INPUT_SIZE = {spec.LISTING_INPUT_SIZE}\n",
                    f"LISTING_INPUT_SIZE = {input_size}\n",
                )
            written.append(folder / source.name)
            written[-1].write_text(text)
        return written

    same, larger = copies(spec.LISTING_INPUT_SIZE), copies(spec.LISTING_INPUT_SIZE + 32)
    fingerprints = []
    try:
        for sources in (same, larger):
            monkeypatch.setattr(export, "descriptor_sources", lambda sources=sources: sources)
            export.model_fingerprint.cache_clear()
            fingerprints.append(export.model_fingerprint())
    finally:
        monkeypatch.undo()
        export.model_fingerprint.cache_clear()
    assert fingerprints[0] == export.model_fingerprint() != fingerprints[1]


def test_a_changed_fingerprint_exports_a_new_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import models.export as export

    monkeypatch.setattr(export, "model_fingerprint", lambda: "changedcode00000")
    path = export.cached_onnx_model(tmp_path)
    assert path.name == "descriptor-changedcode00000.onnx"
    assert path.stat().st_size > 1_000_000
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_one_core_passes_give_the_all_core_pass_descriptors(
    photos: list[np.ndarray], model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "ONE_CORE_BATCH", 3)  # four photos: passes of three and one
    embedder = Embedder(Settings(model_cache=model_cache, inference_threads=2))
    descriptors, regions = embedder.embed_with_regions(photos)
    one_core_descriptors, one_core_regions = embedder.embed_with_regions(photos, one_thread=True)
    assert np.abs(one_core_descriptors - descriptors).max() < 1e-5
    assert np.abs(one_core_regions - regions).max() < 1e-5
