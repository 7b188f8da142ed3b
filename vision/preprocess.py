"""Turns decoded RGB pixels into the normalised float batches the embedding model reads."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def resize_square(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resizes an RGB image to ``size x size`` without cropping (aspect is not kept).

    Squashing keeps every part of the photo in view (a crop could cut off the product) and lets
    images of any shape share one batch. Area interpolation when shrinking avoids aliasing,
    cubic when enlarging keeps small packshots sharp.
    """
    height, width = pixels.shape[:2]
    if (height, width) == (size, size):
        return pixels
    shrinking = height * width >= size * size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(pixels, (size, size), interpolation=interpolation)


#: Gaussian sigma of :func:`blur_for_retrieval`, in pixels per 224 pixels of the longer side.
RETRIEVAL_BLUR_SIGMA = 2.0


def blur_for_retrieval(pixels: np.ndarray) -> np.ndarray:
    """A blurred copy of a reference photo, whose descriptor finds heavily blurred copies of it.

    Blur is a common edit of stolen photos, and it moves a photo's descriptor far from its sharp
    original (about as far as an unrelated photo); a second descriptor per reference from a blurred
    copy meets it halfway. The sigma scales with the photo so that the blur is the same at the
    model's input size whatever the photo's size.
    """
    sigma = RETRIEVAL_BLUR_SIGMA * max(pixels.shape[:2]) / 224
    return cv2.GaussianBlur(pixels, (0, 0), sigma)


def to_batch(
    images: Sequence[np.ndarray],
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> np.ndarray:
    """Stacks RGB uint8 images into a normalised ``(N, 3, size, size)`` float32 batch.

    Args:
        images: H x W x 3 uint8 RGB arrays, any sizes.
        size: Side of the square model input.
        mean: Per-channel mean, in 0..1 units.
        std: Per-channel standard deviation, in 0..1 units.
    """
    batch = np.empty((len(images), 3, size, size), dtype=np.float32)
    for row, pixels in enumerate(images):
        batch[row] = resize_square(pixels, size).transpose(2, 0, 1)
    # Normalised in place, once for the whole batch: no temporary arrays per image.
    batch -= np.asarray(mean, dtype=np.float32).reshape(3, 1, 1) * 255.0
    batch /= np.asarray(std, dtype=np.float32).reshape(3, 1, 1) * 255.0
    return batch
