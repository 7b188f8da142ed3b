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
from models.runtime import INPUT_SIZE, Embedder
from models.spec import DESCRIPTOR_DIM
from vision.preprocess import to_batch


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return [data.chelsea(), data.astronaut(), data.coffee(), data.rocket()]


def test_onnxruntime_agrees_with_torch_within_1e_4(photos: list[np.ndarray], model_cache: Path) -> None:
    batch = to_batch(photos, INPUT_SIZE, MEAN, STD)
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
