"""Sibling packages for tests: one brand design printed in two colours, and a shop photo of one.

A brand prints its flavours on one design and tells them apart by colour (the picture, a band).
Made from the demo's Alpro blueberry packshot: its blueberry-and-yoghurt picture recoloured yellow
gives a vanilla sibling with the same logo, print and layout.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vision.decode import DecodedImage, decode_image, read_image

DEMO = Path(__file__).resolve().parents[1] / "demo"
#: The demo packshot the siblings are made from, and the part of it holding its flavour's picture
#: (rows, then columns, as shares of its side).
BLUEBERRY = DEMO / "catalog" / "images" / "Alpro-Blueberry-Soyghurt.jpg"
_PICTURE = ((0.38, 0.64), (0.4, 0.8))


def blueberry_packshot() -> np.ndarray:
    """The demo's Alpro blueberry packshot, RGB."""
    return read_image(BLUEBERRY).pixels


def vanilla_sibling(packshot: np.ndarray) -> np.ndarray:
    """``packshot`` with the coloured pixels of its flavour's picture turned yellow."""
    height, width = packshot.shape[:2]
    (top, bottom), (left, right) = _PICTURE
    hsv = cv2.cvtColor(packshot, cv2.COLOR_RGB2HSV)
    picture = hsv[int(height * top) : int(height * bottom), int(width * left) : int(width * right)]
    coloured = picture[..., 1] > 20
    picture[..., 0][coloured] = 25  # yellow on OpenCV's 0-180 hue scale
    picture[..., 1][coloured] = np.maximum(picture[..., 1][coloured], 110)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def shop_photo(packshot: np.ndarray, seed: int = 3) -> np.ndarray:
    """``packshot`` held at an angle in front of a busy background, JPEG-compressed; RGB."""
    height, width = packshot.shape[:2]
    side = 360
    background = cv2.GaussianBlur(
        np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8), (0, 0), 4
    )
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    placed = np.float32([[60, 40], [310, 60], [300, 330], [50, 320]])
    transform = cv2.getPerspectiveTransform(corners, placed)
    warped = cv2.warpPerspective(packshot, transform, (side, side))
    inside = cv2.warpPerspective(np.ones((height, width), np.uint8), transform, (side, side)) > 0
    photo = background.copy()
    photo[inside] = warped[inside]
    return decoded(photo).pixels


def jpeg(pixels: np.ndarray, quality: int = 95) -> bytes:
    """``pixels`` (RGB) encoded as a JPEG file's bytes, as a catalog or listing photo is stored."""
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return data.tobytes()


def decoded(pixels: np.ndarray, quality: int = 85) -> DecodedImage:
    """``pixels`` (RGB) through a JPEG round trip, as a listing photo arrives."""
    return decode_image(jpeg(pixels, quality))
