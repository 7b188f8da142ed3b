"""The matcher as the work queue's image checker: how a stored listing photo gets its verdict."""

from __future__ import annotations

from hallmark.cases import FlaggedMatch
from hallmark.listing_matching import ImageChecker, MatchOutcome
from hallmark.settings import Settings
from index.matcher import result_to_json
from index.service import open_matcher
from models.spec import LISTING_INPUT_SIZE
from vision.decode import decode_image


def index_checker(settings: Settings) -> ImageChecker:
    """The matcher as an :data:`ImageChecker`: safe decode, match, and the products above the threshold."""
    matcher = open_matcher(settings)

    def check(data: bytes, name: str) -> MatchOutcome:
        image = decode_image(
            data,
            min_side=LISTING_INPUT_SIZE,
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
        )
        result = matcher.check([image], top_k=settings.top_k)[0]
        stamp = matcher.catalog.load_index().stamp
        flagged = [
            FlaggedMatch(match.reference.reference_id, match.sku, match.score, match.kind)
            for match in result.matches
            if match.score >= matcher.threshold
        ]
        return MatchOutcome(
            result=result_to_json(name, result),
            verdict=result.verdict,
            score=result.score,
            flagged=flagged,
            catalog_version=stamp.catalog_version,
            model_fingerprint=stamp.model_fingerprint,
        )

    return check
