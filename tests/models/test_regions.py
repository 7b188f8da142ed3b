"""Region descriptors pool windows of the same feature map the global descriptor comes from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage import data

from hallmark.settings import Settings
from models.regions import REGIONS, region_descriptors
from models.runtime import Embedder
from models.spec import LISTING_INPUT_SIZE, MEAN, STD
from vision.preprocess import to_batch


def test_region_zero_is_the_global_descriptor(model_cache: Path) -> None:
    embedder = Embedder(Settings(model_cache=model_cache))
    photos = [data.chelsea(), data.coffee()]
    descriptors, regions = embedder.embed_with_regions(photos)
    assert regions.shape == (2, len(REGIONS), descriptors.shape[1])
    assert np.abs(regions[:, 0] - descriptors).max() < 1e-4
    listing_batch = to_batch(photos, LISTING_INPUT_SIZE, MEAN, STD)
    assert np.allclose(descriptors, embedder.embed_batch(listing_batch), atol=1e-5)


def test_regions_are_unit_length_and_see_different_parts() -> None:
    features = np.random.default_rng(0).random((1, 16, 7, 7)).astype(np.float32)
    features[..., :3, :3] += 5.0  # something bright in the top-left corner only
    regions = region_descriptors(features)
    assert np.allclose(np.linalg.norm(regions, axis=-1), 1.0, atol=1e-5)
    top_left, bottom_right = regions[0, 6], regions[0, 9]
    assert top_left @ regions[0, 0] > bottom_right @ regions[0, 0]


def test_embedding_nothing_gives_empty_regions(model_cache: Path) -> None:
    descriptors, regions = Embedder(Settings(model_cache=model_cache)).embed_with_regions([])
    assert descriptors.shape[0] == regions.shape[0] == 0


def test_a_product_standing_at_the_side_of_the_photo_is_best_described_by_a_full_height_strip() -> None:
    generator = np.random.default_rng(1)
    product = generator.random(32).astype(np.float32) ** 4  # the product's own channel pattern
    features = generator.random((1, 32, 7, 7)).astype(np.float32)  # the shop around it
    features[0, :, :, :3] = product[:, None, None] * 4.0  # standing upright in the left three columns
    alone = product / np.linalg.norm(product)
    closest = REGIONS[int(np.argmax(region_descriptors(features)[0] @ alone))]
    top, left, height, width = closest
    assert (top, left, height) == (0.0, 0.0, 1.0) and width < 1.0
