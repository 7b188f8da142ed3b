"""vision.phash: copies stay close, unrelated photos stay far."""

from __future__ import annotations

import io
from itertools import combinations
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from vision.decode import decode_image, read_image
from vision.phash import HASH_BITS, hamming, phash

DISTRACTORS = Path(__file__).parents[2].parent / "shared" / "data" / "distractors"
PHOTOS = [DISTRACTORS / f"{index:05d}.jpg" for index in range(8)]
needs_photos = pytest.mark.skipif(not PHOTOS[0].exists(), reason="shared benchmark photos are not here")

# Near-duplicates below this distance, unrelated photos well above it (imagehash's usual advice).
CLOSE = 10


def reencoded(pixels: np.ndarray, *, scale: float = 1.0, quality: int = 75) -> np.ndarray:
    """The same photo as a listing would repost it: resized and saved again as JPEG."""
    image = Image.fromarray(pixels)
    if scale != 1.0:
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC
        )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return decode_image(buffer.getvalue()).pixels


def gradient(width: int = 64, height: int = 48) -> np.ndarray:
    x = np.linspace(0, 255, width)[np.newaxis, :].repeat(height, axis=0)
    y = np.linspace(0, 255, height)[:, np.newaxis].repeat(width, axis=1)
    return np.stack([x, y, 255 - x], axis=2).astype(np.uint8)


class TestPhash:
    def test_a_hash_is_a_64_bit_unsigned_integer(self) -> None:
        value = phash(gradient())
        assert isinstance(value, int)
        assert 0 <= value < 1 << HASH_BITS

    def test_the_hash_is_imagehashs_phash_as_an_integer(self) -> None:
        pixels = gradient()
        assert f"{phash(pixels):016x}" == str(imagehash.phash(Image.fromarray(pixels)))

    def test_the_same_pixels_always_hash_the_same(self) -> None:
        assert phash(gradient()) == phash(gradient().copy())

    @needs_photos
    @pytest.mark.parametrize("photo", PHOTOS[:4], ids=lambda path: path.name)
    @pytest.mark.parametrize(
        ("scale", "quality"),
        [(1.0, 40), (0.5, 75), (2.0, 90), (0.3, 60)],
        ids=["q40", "half", "double", "small"],
    )
    def test_a_reencoded_or_resized_copy_stays_close(self, photo: Path, scale: float, quality: int) -> None:
        original = read_image(photo).pixels
        assert hamming(phash(original), phash(reencoded(original, scale=scale, quality=quality))) <= CLOSE

    @needs_photos
    def test_unrelated_photos_are_far_apart(self) -> None:
        hashes = [phash(read_image(photo).pixels) for photo in PHOTOS]
        distances = [hamming(a, b) for a, b in combinations(hashes, 2)]
        assert min(distances) > CLOSE
        assert np.mean(distances) > 24  # about half of the 64 bits, as for random hashes

    @pytest.mark.parametrize(
        "pixels",
        [
            pytest.param(np.zeros((8, 8), np.uint8), id="greyscale"),
            pytest.param(np.zeros((8, 8, 4), np.uint8), id="rgba"),
            pytest.param(np.zeros((8, 8, 3), np.float32), id="float"),
            pytest.param(np.zeros((0, 8, 3), np.uint8), id="empty"),
        ],
    )
    def test_anything_but_an_rgb_uint8_array_is_a_programming_error(self, pixels: np.ndarray) -> None:
        with pytest.raises(ValueError, match="expected an H x W x 3 uint8 array"):
            phash(pixels)


class TestHamming:
    def test_a_hash_is_at_distance_zero_from_itself(self) -> None:
        assert hamming(0xDEADBEEF, 0xDEADBEEF) == 0

    def test_the_distance_counts_differing_bits(self) -> None:
        assert hamming(0b1011, 0b0001) == 2
        assert hamming(0, (1 << HASH_BITS) - 1) == HASH_BITS

    def test_the_distance_is_symmetric(self) -> None:
        assert hamming(0x0F0F, 0xFFFF) == hamming(0xFFFF, 0x0F0F) == 8

    @pytest.mark.parametrize("value", [-1, 1 << HASH_BITS])
    def test_a_value_outside_64_bits_is_a_programming_error(self, value: int) -> None:
        with pytest.raises(ValueError, match="not a 64-bit hash"):
            hamming(value, 0)
