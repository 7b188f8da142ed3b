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


#: Degrees each way of :func:`tilt_for_retrieval`.
RETRIEVAL_TILT_DEGREES = 15.0
#: The border :func:`plain_backdrop` looks at, as a share of the shorter side (at least 2 px).
BACKDROP_BORDER = 0.03
#: A backdrop is plain when this share of its border pixels is within
#: :data:`BACKDROP_TOLERANCE` (per channel, 0-255) of the border's median colour. Studio packshots
#: on white come out at 0.88-0.98 (the product touches the frame in places), photos of things on
#: floors, beds and hangers at 0.24-0.8 (development sets, 10th-90th percentile).
BACKDROP_SHARE = 0.85
BACKDROP_TOLERANCE = 24


def plain_backdrop(pixels: np.ndarray) -> tuple[int, int, int] | None:
    """The colour of a photo's plain backdrop (a studio packshot's), or None when it has none.

    Only such a photo is tilted for retrieval (:func:`tilt_for_retrieval`): a product in front of a
    plain backdrop, turned, is what a photo of it held at an angle shows; a photo that fills its
    frame, turned, would show corners no photo of it has.
    """
    height, width = pixels.shape[:2]
    band = max(2, round(BACKDROP_BORDER * min(height, width)))
    if 2 * band >= min(height, width):
        return None
    border = np.concatenate(
        [
            pixels[:band].reshape(-1, 3),
            pixels[-band:].reshape(-1, 3),
            pixels[band:-band, :band].reshape(-1, 3),
            pixels[band:-band, -band:].reshape(-1, 3),
        ]
    ).astype(np.int16)
    colour = np.median(border, axis=0).astype(np.int16)
    close = np.abs(border - colour).max(axis=1) <= BACKDROP_TOLERANCE
    if close.mean() < BACKDROP_SHARE:
        return None
    red, green, blue = (int(channel) for channel in colour)
    return red, green, blue


def tilt_for_retrieval(
    pixels: np.ndarray, degrees: float, backdrop: tuple[int, int, int] = (255, 255, 255)
) -> np.ndarray:
    """A reference photo turned in its plane by ``degrees`` (counter-clockwise), on its own canvas.

    A package held in a hand or leaning on a shelf is photographed tilted, and the network's
    descriptor is not rotation invariant: a packshot's descriptor is far from a tilted photo of
    the package. Descriptors of the packshot tilted each way meet such photos halfway. The corners
    the turn uncovers get the backdrop's colour (see :func:`plain_backdrop`).
    """
    height, width = pixels.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(pixels, turn, (width, height), flags=cv2.INTER_LINEAR, borderValue=backdrop)


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
