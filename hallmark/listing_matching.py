"""Matching stored listing photos and opening cases from the matches: the ``match_listing_image`` work.

The image model lives above this layer, so the worker hands in an :class:`ImageChecker` built from the
matcher; crawlers can also just enqueue :data:`~hallmark.work_queue.KIND_MATCH_LISTING_IMAGE` items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hallmark.cases import FlaggedMatch, OpenedCases, open_cases_for_match
from hallmark.db import ImageMatch, ListingImage, utcnow
from hallmark.errors import ImageError, NotFoundError
from hallmark.settings import Settings
from hallmark.work_queue import KIND_MATCH_LISTING_IMAGE, Handler, PermanentWorkError, WorkContext, enqueue


@dataclass(frozen=True)
class MatchOutcome:
    """The matcher's answer on one photo.

    Attributes:
        result: The check contract's JSON object (as ``hallmark check --json`` prints it).
        verdict: ``copy``, ``product`` or ``none``.
        score: The best candidate's calibrated score.
        flagged: The candidates above the operating threshold (one per product).
        catalog_version: The catalog version the index was at.
        model_fingerprint: The model that made the descriptors.
    """

    result: dict[str, Any]
    verdict: str
    score: float
    flagged: list[FlaggedMatch]
    catalog_version: int
    model_fingerprint: str


#: Decodes and matches one photo's bytes; raises ``ImageError`` for bytes that are no acceptable image.
ImageChecker = Callable[[bytes, str], MatchOutcome]


@dataclass(frozen=True)
class ListingMatch:
    """What matching one listing photo stored and did to the case queue."""

    image_match_id: int
    verdict: str
    score: float
    cases: OpenedCases


def enqueue_listing_image(session: Session, listing_image_id: int) -> None:
    """Queues a stored listing photo for matching (in the caller's transaction)."""
    enqueue(session, KIND_MATCH_LISTING_IMAGE, {"listing_image_id": listing_image_id})


def _stored_bytes(home: Path, stored_path: str) -> bytes:
    path = (home / stored_path).resolve()
    # The path comes from the database; still, never read outside the data directory.
    if not path.is_relative_to(home):
        raise ImageError(f"stored photo path {stored_path!r} is outside the data directory")
    try:
        return path.read_bytes()
    except OSError as error:
        raise ImageError(f"cannot read the stored photo {stored_path!r}: {error.strerror}") from None


def match_listing_image(
    session: Session, listing_image_id: int, checker: ImageChecker, settings: Settings, actor: str = "worker"
) -> ListingMatch:
    """Matches a stored listing photo, stores the match and opens or updates cases.

    Raises:
        NotFoundError: No listing photo has this id.
        ImageError: The photo has no stored bytes, or they are not an acceptable image.
    """
    image = session.get(ListingImage, listing_image_id)
    if image is None:
        raise NotFoundError(f"no listing photo with id {listing_image_id}")
    if not image.stored_path:
        raise ImageError(
            f"listing photo {listing_image_id} has no stored bytes ({image.error or 'not fetched'})"
        )
    data = _stored_bytes(settings.resolved_home, image.stored_path)
    outcome = checker(data, image.url)
    match = ImageMatch(
        listing_image_id=image.id,
        verdict=outcome.verdict,
        score=outcome.score,
        result=outcome.result,
        catalog_version=outcome.catalog_version,
        model_fingerprint=outcome.model_fingerprint,
        created_at=utcnow(),
    )
    session.add(match)
    session.flush()
    cases = open_cases_for_match(session, match, outcome.flagged, settings, actor)
    return ListingMatch(match.id, outcome.verdict, outcome.score, cases)


def match_handler(checker: ImageChecker) -> Handler:
    """The ``match_listing_image`` work handler for a checker."""

    def handle(context: WorkContext) -> None:
        listing_image_id = int(context.item.payload["listing_image_id"])
        try:
            match_listing_image(context.session, listing_image_id, checker, context.settings)
        except (ImageError, NotFoundError) as error:
            # Bad bytes stay bad and a deleted photo stays deleted: retrying cannot help.
            raise PermanentWorkError(str(error)) from error

    return handle
