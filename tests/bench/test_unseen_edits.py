"""The unseen edits of the benchmark: each makes the copy it describes."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from bench.unseen_edits import EDITS, heavy_crop, meme, noise, perspective, screenshot


@pytest.fixture
def photo() -> np.ndarray:
    generator = np.random.default_rng(0)
    return generator.integers(0, 256, (300, 200, 3), dtype=np.uint8)


def test_every_edit_gives_an_rgb_photo(photo: np.ndarray) -> None:
    for edit, quality in EDITS.values():
        copy = edit(photo, random.Random(0))
        assert copy.dtype == np.uint8 and copy.ndim == 3 and copy.shape[2] == 3
        assert 1 <= quality <= 100


def test_a_heavy_crop_keeps_a_sixth_to_a_third_of_the_photo_unchanged(photo: np.ndarray) -> None:
    for seed in range(20):
        copy = heavy_crop(photo, random.Random(seed))
        share = copy.shape[0] * copy.shape[1] / (photo.shape[0] * photo.shape[1])
        assert 0.15 <= share <= 0.31
        # Somewhere in the photo, pixel for pixel.
        difference = cv2.matchTemplate(photo, np.ascontiguousarray(copy), cv2.TM_SQDIFF)
        _, _, (left, top), _ = cv2.minMaxLoc(difference)
        rows, columns = copy.shape[:2]
        assert np.array_equal(photo[top : top + rows, left : left + columns], copy)


def test_a_meme_adds_bands_and_keeps_the_photo_between_them(photo: np.ndarray) -> None:
    copy = meme(photo, random.Random(0))
    band = (copy.shape[0] - photo.shape[0]) // 2
    assert band > 0 and np.array_equal(copy[band : band + photo.shape[0]], photo)


def test_noise_and_perspective_keep_the_size_and_change_the_pixels(photo: np.ndarray) -> None:
    for edit in (noise, perspective):
        copy = edit(photo, random.Random(0))
        assert copy.shape == photo.shape and not np.array_equal(copy, photo)


def test_a_screenshot_shows_the_photo_smaller_on_a_page(photo: np.ndarray) -> None:
    copy = screenshot(photo, random.Random(0))
    assert copy.shape[0] > photo.shape[0] * 0.6 and copy[0, 0].tolist() == [30, 30, 30]
