"""Perceptual hashes: a cheap first look for exact and near-exact copies of a photo.

A 64-bit DCT hash (imagehash's pHash) survives re-encoding, resizing and mild colour changes, and
two hashes compare by Hamming distance. It does not survive crops, rotations or overlays; the
embedding model handles those.
"""

from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image

__all__ = ["HASH_BITS", "hamming", "phash"]

#: Bits in a hash from :func:`phash`; the largest Hamming distance between two of them.
HASH_BITS = 64


def phash(pixels: np.ndarray) -> int:
    """The 64-bit DCT perceptual hash of an image.

    Args:
        pixels: H x W x 3 ``uint8`` RGB array, such as ``DecodedImage.pixels``.

    Returns:
        The hash as an unsigned 64-bit integer, row-major bits of imagehash's 8 x 8 matrix (so
        ``f"{value:016x}"`` equals ``str(imagehash.phash(image))``).

    Raises:
        ValueError: The array is not H x W x 3 ``uint8``.
    """
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3 or 0 in pixels.shape:
        raise ValueError(f"expected an H x W x 3 uint8 array, got {pixels.dtype} {pixels.shape}")
    bits = imagehash.phash(Image.fromarray(pixels)).hash.flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    """The number of bits in which two hashes from :func:`phash` differ (0 to 64).

    Raises:
        ValueError: Either value is not a 64-bit unsigned integer.
    """
    for value in (a, b):
        if not 0 <= value < 1 << HASH_BITS:
            raise ValueError(f"not a {HASH_BITS}-bit hash: {value}")
    return (a ^ b).bit_count()
