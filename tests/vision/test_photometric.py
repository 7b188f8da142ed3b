"""Photometric agreement tells a reused photo from a different photo aligned onto it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.decode import read_image
from vision.geometry import extract_features, verify
from vision.photometric import agreement

DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.fixture(scope="module")
def garment() -> np.ndarray:
    return read_image(DEMO / "catalog" / "images" / "DA-005.jpg").pixels


def test_a_recoloured_cropped_copy_agrees_almost_everywhere(garment: np.ndarray) -> None:
    height, width = garment.shape[:2]
    copy = garment[height // 10 :, : width - width // 8].copy()
    copy = cv2.cvtColor(cv2.cvtColor(copy, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    copy = np.clip(copy.astype(np.int16) * 0.8 + 30, 0, 255).astype(np.uint8)
    query, reference = extract_features(copy), extract_features(garment)
    found = verify(query, reference)
    assert found.homography is not None
    assert agreement(query, reference, found.homography) > 0.8


def test_another_photo_put_in_the_same_place_does_not_agree(garment: np.ndarray) -> None:
    other = read_image(DEMO / "catalog" / "images" / "DA-001.jpg").pixels
    other = cv2.resize(other, (garment.shape[1], garment.shape[0]))
    query, reference = extract_features(other), extract_features(garment)
    identity = np.diag([reference.scale / query.scale, reference.scale / query.scale, 1.0])
    assert agreement(query, reference, identity) < 0.4


def test_an_alignment_that_leaves_the_photo_agrees_with_nothing(garment: np.ndarray) -> None:
    features = extract_features(garment)
    far_away = np.array([[1.0, 0.0, 5000.0], [0.0, 1.0, 5000.0], [0.0, 0.0, 1.0]])
    assert agreement(features, features, far_away) == 0.0
