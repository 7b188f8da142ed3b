"""Photometric agreement: after alignment, are the listing's pixels the reference's pixels?

Geometry alone cannot tell a reused photo from a new photo of the same scene: a seller who
photographs every garment on the same carpet produces hundreds of background inliers between
different listings, and a shop photo of a carton matches its packshot's print. A copy, however, agrees
with its source pixel for pixel almost everywhere once aligned, whatever its colour edits, so the
share of the overlap whose local structure correlates decides ``copy`` against ``product``.

Colour tells sibling packages apart: a brand prints its variants (whole, semi-skimmed, organic;
apple, orange) on one design in different colours, so a shop photo of one variant aligns with
every sibling's packshot about as well, but only its own packshot has its colours. Where two such
packshots both align, :func:`colour_contest` compares the listing with each of them only where
they differ from each other (the flavour's band or picture), not over the white carton they share.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.geometry import LocalFeatures

__all__ = ["ColourContest", "agreement", "agreement_quartiles", "colour_contest", "colour_difference"]

#: Side of the square grid the aligned pair is compared on, and blocks per side.
_GRID_SIDE = 96
_BLOCKS = 8
#: A block is compared only when the warped reference covers nearly all of it.
_MIN_COVERAGE = 0.9
#: The covered part of the listing must be at least this many feature-scale pixels each way.
_MIN_OVERLAP_SIDE = 32
#: Blocks flat in both photos (a plain wall, padding) agree when their brightness is this close;
#: correlation is undefined on them.
_FLAT_STD = 4.0
_FLAT_BRIGHTNESS = 40.0
#: Fewest listing pixels (at feature scale) the warped reference must cover to compare colour.
_MIN_COLOUR_PIXELS = 64
#: The percentile of the colour distance reported (see :func:`colour_difference`).
_COLOUR_PERCENTILE = 90
#: A colour contest compares the listing pixels where the two aligned references' a*b* differ by
#: more than this (OpenCV's 8-bit CIELAB units; JPEG noise and a few pixels of misalignment on the
#: smoothed copies stay below it) ...
CONTEST_CHROMA_GAP = 8.0
#: ... when there are at least this many of them (at feature scale: a 6 x 6 pixel patch).
CONTEST_MIN_PIXELS = 32
#: A listing whose covered pixels all lie this close to neutral grey is a greyscale photo: its
#: colours cannot favour either reference.
CONTEST_MIN_LISTING_CHROMA = 4.0


def _warped_onto_query(
    image: np.ndarray, query: LocalFeatures, homography: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """A reference-frame image warped onto the listing's feature-scale frame, and the mask of the
    listing pixels it covers; None when the homography cannot be inverted."""
    height, width = query.gray.shape[:2]
    try:
        inverse = np.linalg.inv(homography)
    except np.linalg.LinAlgError:
        return None
    warped = cv2.warpPerspective(image, inverse, (width, height), flags=cv2.INTER_LINEAR)
    ones = np.ones(image.shape[:2], dtype=np.uint8)
    covered = cv2.warpPerspective(ones, inverse, (width, height), flags=cv2.INTER_NEAREST) > 0
    return warped, covered


@dataclass(frozen=True)
class ColourContest:
    """Which of two aligned references the listing's colours side with, where the two differ.

    Attributes:
        pixels: Listing pixels (at feature scale) where both references land and their colours
            differ by more than :data:`CONTEST_CHROMA_GAP`.
        first_distance: Median a*b* distance from the listing to the first reference there.
        second_distance: The same for the second reference.
    """

    pixels: int
    first_distance: float
    second_distance: float

    @property
    def second_closer_by(self) -> float:
        """How much closer the listing is to the second reference than to the first (a*b* units)."""
        return self.first_distance - self.second_distance


def agreement(query: LocalFeatures, reference: LocalFeatures, homography: np.ndarray) -> float:
    """Median local correlation between the query and the reference warped onto it.

    The first value of :func:`agreement_quartiles`.
    """
    return agreement_quartiles(query, reference, homography)[0]


def agreement_quartiles(
    query: LocalFeatures, reference: LocalFeatures, homography: np.ndarray
) -> tuple[float, float]:
    """Median and lower quartile of the local correlation between the query and the reference
    warped onto it.

    Correlation per block is invariant to brightness and contrast changes, so greyscale, colour
    shifts and JPEG keep it near 1; overlays (text, emoji) spoil only the blocks they cover, which
    the median ignores.

    Args:
        query: The listing photo's features (their ``gray`` is compared).
        reference: The reference photo's features.
        homography: Maps query ``gray`` pixels onto reference ``gray`` pixels (from
            :func:`vision.geometry.verify`).

    The lower quartile says whether the pixels agree nearly everywhere, as a copy's do, or only
    over most of the overlap: a garment laid on the same floor as a reference's agrees on the floor
    (a median up to 0.92 in the development distractors) and not where the garments lie.

    Returns:
        Two values in -1..1: the median, about 0.9-1 for an edited copy and about 0-0.3 for another
        photo of the same object or a shared background, and the lower quartile; both 0 when the
        overlap is too small to judge.
    """
    aligned = _warped_onto_query(reference.gray.astype(np.float32), query, homography)
    if aligned is None:
        return 0.0, 0.0
    warped, covered = aligned
    # The grid spans the part of the listing the reference covers, not the whole listing: a copy
    # shown small (in a collage, on a page, on a table) is compared at the detail of a full-frame
    # copy instead of on the few blocks its share of the frame would get.
    covered_mask = covered.astype(np.uint8)
    x, y, width, height = cv2.boundingRect(covered_mask)
    if min(width, height) < _MIN_OVERLAP_SIDE:
        return 0.0, 0.0
    size = (_GRID_SIDE, _GRID_SIDE)
    left = cv2.resize(
        query.gray[y : y + height, x : x + width].astype(np.float32), size, interpolation=cv2.INTER_AREA
    )
    right = cv2.resize(warped[y : y + height, x : x + width], size, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(covered_mask[y : y + height, x : x + width], size, interpolation=cv2.INTER_NEAREST) > 0
    block = _GRID_SIDE // _BLOCKS

    def blocks(grid: np.ndarray) -> np.ndarray:  # (_BLOCKS**2, block**2), row-major blocks
        return grid.reshape(_BLOCKS, block, _BLOCKS, block).swapaxes(1, 2).reshape(_BLOCKS**2, -1)

    covered_blocks = blocks(mask).mean(axis=1) >= _MIN_COVERAGE
    a = blocks(left)[covered_blocks]
    b = blocks(right)[covered_blocks]
    mean_a, mean_b = a.mean(axis=1), b.mean(axis=1)
    spread_a, spread_b = a.std(axis=1), b.std(axis=1)
    flat_a, flat_b = spread_a < _FLAT_STD, spread_b < _FLAT_STD
    flat = flat_a | flat_b
    flat_agrees = flat_a & flat_b & (np.abs(mean_a - mean_b) < _FLAT_BRIGHTNESS)
    with np.errstate(divide="ignore", invalid="ignore"):
        covariance = ((a - mean_a[:, None]) * (b - mean_b[:, None])).mean(axis=1)
        correlation = covariance / (spread_a * spread_b)
    scores = np.where(flat, flat_agrees.astype(np.float32), correlation)
    # Fewer than an eighth of the blocks overlapping is too little to call anything a copy.
    if len(scores) < _BLOCKS * _BLOCKS // 8:
        return 0.0, 0.0
    median, lower_quartile = np.percentile(scores, [50, 25])
    return float(median), float(lower_quartile)


def colour_difference(query: LocalFeatures, reference: LocalFeatures, homography: np.ndarray) -> float | None:
    """How far the listing's colours are from the aligned reference's, where the reference lands.

    A high percentile of the per-pixel a*b* distance, not the median: sibling packages share most
    of their design, and the part printed in the variant's own colour (a band, a fruit, a cap) is
    what tells them apart.

    Args:
        query: The listing photo's features (their ``chroma`` is compared).
        reference: The reference photo's features.
        homography: Maps query ``gray`` pixels onto reference ``gray`` pixels.

    Returns:
        The 90th percentile of the a*b* distance (OpenCV's 8-bit CIELAB units) over the listing
        pixels the warped reference covers, or None when either photo has no colour copy or the
        reference covers too little of the listing.
    """
    if query.chroma is None or reference.chroma is None:
        return None
    aligned = _warped_onto_query(reference.chroma, query, homography)
    if aligned is None:
        return None
    warped, inside = aligned
    if int(inside.sum()) < _MIN_COLOUR_PIXELS:
        return None
    # Per-pixel distances over the whole frame, then the covered ones: OpenCV's absolute difference
    # and magnitude take a fifth of the time of NumPy's indexing, subtraction and hypot.
    a_difference, b_difference = cv2.split(cv2.absdiff(query.chroma, warped))
    distances = cv2.magnitude(a_difference.astype(np.float32), b_difference.astype(np.float32))
    return float(np.percentile(distances[inside], _COLOUR_PERCENTILE))


def colour_contest(
    query: LocalFeatures,
    first: tuple[LocalFeatures, np.ndarray],
    second: tuple[LocalFeatures, np.ndarray],
) -> ColourContest | None:
    """Compares the listing's colours with two aligned references where those two differ.

    Sibling packages (one brand's flavours or fat contents) share their logo and layout and differ
    in a band, a picture or a cap. A shop photo of one aligns with the other's packshot almost as
    well, on the shared print, and its colours over the whole package (:func:`colour_difference`)
    are about as far from either: the white carton and the shop's background dominate. Compared
    only where the two packshots' colours differ, the listing sides with the one it shows.

    Args:
        query: The listing photo's features, with their ``chroma``.
        first: A reference's features (with ``chroma``) and the homography mapping the listing's
            ``gray`` pixels onto them.
        second: The same for the other reference.

    Returns:
        The contest, or None when a photo has no colour copy, a homography cannot be inverted, the
        listing is greyscale where the references land, or they differ on fewer than
        :data:`CONTEST_MIN_PIXELS` of the listing's pixels.
    """
    if query.chroma is None or first[0].chroma is None or second[0].chroma is None:
        return None
    first_aligned = _warped_onto_query(first[0].chroma, query, first[1])
    second_aligned = _warped_onto_query(second[0].chroma, query, second[1])
    if first_aligned is None or second_aligned is None:
        return None
    first_warped, first_inside = first_aligned
    second_warped, second_inside = second_aligned
    both = first_inside & second_inside
    listing = query.chroma.astype(np.float32)
    neutral = np.linalg.norm(listing[both] - 128.0, axis=1)
    if neutral.size == 0 or float(neutral.max()) < CONTEST_MIN_LISTING_CHROMA:
        return None
    first_chroma = first_warped.astype(np.float32)
    second_chroma = second_warped.astype(np.float32)
    differing = both & (np.linalg.norm(first_chroma - second_chroma, axis=2) > CONTEST_CHROMA_GAP)
    pixels = int(differing.sum())
    if pixels < CONTEST_MIN_PIXELS:
        return None
    shown = listing[differing]
    return ColourContest(
        pixels=pixels,
        first_distance=round(float(np.median(np.linalg.norm(shown - first_chroma[differing], axis=1))), 2),
        second_distance=round(float(np.median(np.linalg.norm(shown - second_chroma[differing], axis=1))), 2),
    )
