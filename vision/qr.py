"""Reading QR codes (serial tags) from photos with OpenCV's detector.

Photos of tags are taken by buyers with phones: small, tilted, unevenly lit. The decoder is tried on
the photo as it is, then on versions that help it (grey, contrast-stretched, scaled up when the code
is small), and stops at the first that yields a code.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.decode import DecodedImage

__all__ = ["read_qr_codes"]

#: Photos are shrunk to at most this side first: the detector's time grows with pixels, and a tag
#: that fills a reasonable part of the photo stays readable.
_MAX_SIDE = 1600
#: Small photos are scaled up to at least this side: the detector needs a few pixels per module.
_MIN_SIDE = 600


def _variants(pixels: np.ndarray) -> list[np.ndarray]:
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    longest = max(height, width)
    if longest > _MAX_SIDE:
        scale = _MAX_SIDE / longest
        grey = cv2.resize(grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    elif longest < _MIN_SIDE:
        scale = _MIN_SIDE / longest
        grey = cv2.resize(grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_CUBIC)
    stretched = cv2.normalize(grey, np.empty_like(grey), 0, 255, cv2.NORM_MINMAX)
    binary = cv2.adaptiveThreshold(stretched, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 5)
    return [grey, stretched, binary]


def read_qr_codes(image: DecodedImage) -> list[str]:
    """The texts of the QR codes in a photo, each once, in the order the detector found them.

    Args:
        image: A photo that went through the safe decoder.

    Returns:
        The decoded texts; empty when no code could be read.
    """
    detector = cv2.QRCodeDetector()
    for variant in _variants(image.pixels):
        try:
            found, texts, _, _ = detector.detectAndDecodeMulti(variant)
        except cv2.error:
            found, texts = False, ()
        decoded = [text for text in texts if text] if found else []
        if not decoded:
            try:
                text, _, _ = detector.detectAndDecode(variant)
            except cv2.error:
                text = ""
            decoded = [text] if text else []
        if decoded:
            return list(dict.fromkeys(decoded))
    return []
