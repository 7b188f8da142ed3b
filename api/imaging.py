"""Turning uploaded or fetched bytes into a check answer: decode safely, match, describe."""

from __future__ import annotations

from typing import Any

from hallmark.settings import Settings
from index.catalog import ReferenceInfo
from index.matcher import Matcher, result_to_json
from models.spec import LISTING_INPUT_SIZE
from vision.decode import DecodedImage, decode_image


def decode_upload(data: bytes, settings: Settings, *, for_matching: bool = True) -> DecodedImage:
    """Decodes untrusted bytes under the app's caps.

    Raises:
        ImageError: Empty, not an image, a format we refuse, corrupt, or over a cap.
    """
    return decode_image(
        data,
        min_side=LISTING_INPUT_SIZE if for_matching else None,
        max_bytes=settings.max_image_bytes,
        max_pixels=settings.max_image_pixels,
    )


def reference_url(base_url: str, reference_id: int) -> str:
    return f"{base_url.rstrip('/')}/v1/references/{reference_id}/image"


def check_image(
    matcher: Matcher, image: DecodedImage, name: str, top_k: int, base_url: str
) -> dict[str, Any]:
    """The check contract's JSON for one decoded image, with reference photos as API URLs."""
    result = matcher.check([image], top_k=top_k)[0]

    def locate(reference: ReferenceInfo) -> str:
        return reference_url(base_url, reference.reference_id)

    return result_to_json(name, result, reference_location=locate)
