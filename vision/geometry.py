"""Local features and geometric verification: does one photo show the same plane as another?

A listing photo and a reference agree geometrically when many local features (RootSIFT) match and
one homography explains them: a reused photo after crops, rotations, padding or overlays, or the
printed face of a package photographed at an angle. The inliers are the evidence a reviewer sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

__all__ = [
    "FEATURE_SIDE",
    "FORESHORTENINGS",
    "ForeshortenedView",
    "LocalFeatures",
    "TentativeMatches",
    "Verification",
    "add_view_matches",
    "colour_copy",
    "extract_features",
    "fit_alignment",
    "foreshortened_view",
    "listing_footprint",
    "match_features",
    "ratio_test_matches",
    "reference_footprint",
    "verify",
]

#: Features are found on a copy whose longer side is at most this. Small enough that blur, JPEG
#: artefacts and upscaling (edits a copier uses) leave the remaining structure intact, large enough
#: for the 198 px packshots; it also bounds the cost per photo (18-22 ms on one core for a listing
#: photo, the largest cost after the network). Listing photos described smaller are cheaper and lose
#: product matches: at 160 or 136 px, product recall@1 fell from 0.845 to 0.819 or 0.786 with every
#: parameter refitted (``BENCHMARKS.md``, fifth session).
FEATURE_SIDE = 192
#: Keypoints kept per photo, strongest first.
MAX_FEATURES = 500
#: SIFT's contrast threshold; lower than OpenCV's 0.04 so that low-contrast (blurred, faded,
#: greyscale) copies still yield enough keypoints.
CONTRAST_THRESHOLD = 0.01
#: A photo with fewer keypoints than this is described again at :data:`LOW_CONTRAST_THRESHOLD`.
#: The threshold is absolute, and blur lowers every difference-of-Gaussians response: a heavily
#: blurred copy keeps 10-40 keypoints at 0.01, too few to align with its source, though its
#: coarse structure is intact. Few photos take the second pass (no product photo or packshot of
#: the development sets, about one copy-set photo in ten), so it costs little overall.
LOW_KEYPOINTS = 100
#: The contrast threshold of that second pass.
LOW_CONTRAST_THRESHOLD = 0.002
#: Lowe's ratio test: a match is kept when its nearest neighbour is clearly nearer than the second.
RATIO = 0.8
#: Reprojection error (pixels at feature scale) for MAGSAC++.
REPROJECTION_ERROR = 4.0
#: How a reference photo is squeezed for its foreshortened views, ``(width factor, height factor)``:
#: a package turned about its upright axis by about 37 degrees (cos 0.8), as in a hand, and one seen
#: from about 45 degrees above or below (cos 0.7), as on a shelf. SIFT tolerates some foreshortening
#: but loses matches past about 30 degrees, where a carton's face in a shop photo often is. A third
#: view squeezed to 0.6 wide gave no more product photos their product as the most inliers (795
#: against 796 of 935) and more than doubled the fruit photos aligning with 12 or more chance
#: inliers (180 against 77 of 429; ``BENCHMARKS.md``, thirteenth session).
FORESHORTENINGS = ((0.8, 1.0), (1.0, 0.7))
#: Smoothing of the chroma copy, pixels at feature scale.
CHROMA_SIGMA = 1.5
#: Fewer tentative matches than this cannot support a homography worth reporting.
MIN_MATCHES = 6


@dataclass(frozen=True)
class LocalFeatures:
    """RootSIFT keypoints of one photo, with the small greyscale copy they were found on.

    Attributes:
        points: ``(N, 2)`` keypoint positions in the photo's own pixel coordinates.
        descriptors: ``(N, 128)`` RootSIFT descriptors (Hellinger kernel: L1-normalised, square root).
        gray: The greyscale copy at feature scale (used to compare pixels after alignment), flipped
            when ``mirrored``.
        scale: ``gray`` side over the photo's side (1.0 when the photo was small enough).
        width: The photo's width in pixels.
        height: The photo's height in pixels.
        mirrored: The features describe the photo flipped left to right (positions are still given
            in the unflipped photo's coordinates).
        chroma: The photo's colour at feature scale, ``gray``'s shape by 2: the a* and b* channels
            of CIELAB (OpenCV's 8-bit encoding, 128 is neutral), smoothed; flipped with ``gray``.
            Neutral for a greyscale photo; None until made (see :func:`colour_copy`).
    """

    points: np.ndarray
    descriptors: np.ndarray
    gray: np.ndarray
    scale: float
    width: int
    height: int
    mirrored: bool = False
    chroma: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class ForeshortenedView:
    """A reference photo's keypoints as seen at an angle (see :func:`foreshortened_view`).

    Attributes:
        points: ``(N, 2)`` keypoint positions mapped back into the unsqueezed photo's pixels, so that
            matches to the view and to the photo itself fit one homography.
        descriptors: ``(N, 128)`` RootSIFT descriptors found on the squeezed photo.
    """

    points: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class Verification:
    """The geometric agreement of a query photo with one reference photo.

    Attributes:
        matches: Tentative matches that passed the ratio test.
        inliers: Matches consistent with the homography.
        inlier_ratio: ``inliers / matches``.
        spread: Area of the inliers' convex hull in the reference, as a share of the reference: high
            when the agreement covers the photo, low when only a logo or a corner agrees.
        homography: 3x3 matrix mapping the query's ``gray`` pixels onto the reference's ``gray``
            pixels (both at feature scale; the reference mirrored when ``mirrored``).
        query_points: ``(inliers, 2)`` inlier positions in the query.
        reference_points: ``(inliers, 2)`` inlier positions in the (unflipped) reference.
        mirrored: The query matches the reference flipped left to right.
    """

    matches: int
    inliers: int
    inlier_ratio: float
    spread: float
    homography: np.ndarray | None
    query_points: np.ndarray
    reference_points: np.ndarray
    mirrored: bool

    @classmethod
    def none(cls, matches: int = 0, mirrored: bool = False) -> Verification:
        """A verification that found no geometric agreement."""
        empty = np.zeros((0, 2), dtype=np.float32)
        return cls(matches, 0, 0.0, 0.0, None, empty, empty, mirrored)


def _gray_at_feature_scale(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """The greyscale copy at feature scale and the scale it was made at."""
    height, width = pixels.shape[:2]
    scale = min(1.0, FEATURE_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY) if pixels.ndim == 3 else pixels
    if scale < 1.0:
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(gray), scale


def colour_copy(pixels: np.ndarray, features: LocalFeatures) -> np.ndarray:
    """The smoothed a*b* copy of a photo that :attr:`LocalFeatures.chroma` holds.

    Separate from :func:`extract_features` so that a listing photo pays for it (about 1.5 ms) only
    once an alignment needs it: most listing photos align with no candidate.

    Args:
        pixels: The photo the features were extracted from.
        features: Its features (their ``gray`` gives the size, ``mirrored`` the orientation).
    """
    rows, columns = features.gray.shape
    if pixels.ndim == 2:
        return np.full((rows, columns, 2), 128, dtype=np.uint8)
    small = (
        cv2.resize(pixels, (columns, rows), interpolation=cv2.INTER_AREA) if features.scale < 1.0 else pixels
    )
    # Smoothed: colour is compared region by region, not across JPEG's chroma blocks or a few
    # pixels of misalignment.
    chroma = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2LAB)[:, :, 1:], (0, 0), CHROMA_SIGMA)
    if features.mirrored:
        chroma = chroma[:, ::-1]
    return np.ascontiguousarray(chroma)


def extract_features(pixels: np.ndarray, mirrored: bool = False, colour: bool = True) -> LocalFeatures:
    """RootSIFT features of an RGB (or greyscale) uint8 photo.

    Args:
        pixels: H x W x 3 RGB or H x W greyscale ``uint8`` array.
        mirrored: Describe the photo flipped left to right, so that a mirrored copy of it matches.
        colour: Make the colour copy (``chroma``) now; without it, :func:`colour_copy` makes it
            when needed.

    Returns:
        The features; possibly empty for a flat or tiny photo.
    """
    height, width = pixels.shape[:2]
    gray, scale = _gray_at_feature_scale(pixels)
    if mirrored:
        gray = np.ascontiguousarray(gray[:, ::-1])
    keypoints, descriptors = _sift(gray, CONTRAST_THRESHOLD)
    if len(keypoints) < LOW_KEYPOINTS:
        again = _sift(gray, LOW_CONTRAST_THRESHOLD)
        if len(again[0]) > len(keypoints):
            keypoints, descriptors = again
    if descriptors is None or not keypoints:
        points = np.zeros((0, 2), dtype=np.float32)
        descriptors = np.zeros((0, 128), dtype=np.float32)
    else:
        points = np.array([keypoint.pt for keypoint in keypoints], dtype=np.float32)
        descriptors = descriptors.astype(np.float32)
        descriptors /= descriptors.sum(axis=1, keepdims=True) + 1e-7
        descriptors = np.sqrt(descriptors)
        if mirrored:
            points[:, 0] = gray.shape[1] - 1 - points[:, 0]
        points /= scale
    features = LocalFeatures(points, descriptors, gray, scale, width, height, mirrored)
    if colour:
        features = replace(features, chroma=colour_copy(pixels, features))
    return features


def foreshortened_view(pixels: np.ndarray, width_factor: float, height_factor: float) -> ForeshortenedView:
    """Keypoints of a photo squeezed along one axis, as a package turned away from the camera shows.

    Args:
        pixels: The reference photo (as for :func:`extract_features`).
        width_factor: Share of the width kept (1.0: not squeezed that way).
        height_factor: Share of the height kept.
    """
    height, width = pixels.shape[:2]
    size = (max(1, round(width * width_factor)), max(1, round(height * height_factor)))
    squeezed = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    features = extract_features(squeezed, colour=False)
    back = np.array([width / size[0], height / size[1]], dtype=np.float32)
    return ForeshortenedView(features.points * back, features.descriptors)


def _sift(gray: np.ndarray, contrast_threshold: float) -> tuple[Sequence[cv2.KeyPoint], np.ndarray | None]:
    """OpenCV SIFT's keypoints and descriptors, the strongest :data:`MAX_FEATURES` of them."""
    detector = cv2.SIFT_create(  # type: ignore[attr-defined]
        nfeatures=MAX_FEATURES, contrastThreshold=contrast_threshold
    )
    return detector.detectAndCompute(gray, None)


def _hull_share(points: np.ndarray, width: int, height: int) -> float:
    if len(points) < 3:
        return 0.0
    area = cv2.contourArea(cv2.convexHull(points.astype(np.float32)))
    return float(min(1.0, area / max(1.0, width * height)))


def listing_footprint(
    query: LocalFeatures, reference: LocalFeatures, homography: np.ndarray
) -> tuple[tuple[int, int, int, int], float] | None:
    """Where the whole listing lands in the reference, by the homography of an alignment.

    Args:
        query: The listing photo's features.
        reference: The reference's features (not mirrored).
        homography: Maps query ``gray`` pixels onto reference ``gray`` pixels.

    Returns:
        The bounding box ``(left, top, right, bottom)`` of the listing's outline in the reference
        photo's own pixels, clipped to the photo, and the share of the reference it covers; None
        when the outline folds over (a degenerate homography).
    """
    return _footprint(query, reference, homography)


def reference_footprint(
    query: LocalFeatures, reference: LocalFeatures, homography: np.ndarray
) -> tuple[tuple[int, int, int, int], float] | None:
    """Where the whole reference lands in the listing: :func:`listing_footprint` the other way.

    Returns:
        The bounding box of the reference's outline in the listing photo's own pixels, clipped to
        the photo, and the share of the listing it covers; None when the outline folds over or the
        homography cannot be inverted.
    """
    try:
        inverse = np.linalg.inv(homography)
    except np.linalg.LinAlgError:
        return None
    return _footprint(reference, query, inverse)


def _footprint(
    source: LocalFeatures, target: LocalFeatures, homography: np.ndarray
) -> tuple[tuple[int, int, int, int], float] | None:
    """The bounding box in ``target``'s own pixels of ``source``'s outline mapped by ``homography``
    (``source`` gray pixels to ``target`` gray pixels), and the share of ``target`` it covers."""
    rows, columns = source.gray.shape
    corners = np.array([[0, 0], [columns - 1, 0], [columns - 1, rows - 1], [0, rows - 1]], np.float32)
    mapped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), homography)
    if mapped is None or not np.all(np.isfinite(mapped)):
        return None
    outline = mapped.reshape(-1, 2) / target.scale
    if not cv2.isContourConvex(outline.astype(np.float32)):
        return None
    left, top = np.floor(outline.min(axis=0)).astype(int)
    right, bottom = np.ceil(outline.max(axis=0)).astype(int)
    box = (max(0, left), max(0, top), min(target.width, right), min(target.height, bottom))
    if box[2] <= box[0] or box[3] <= box[1]:
        return None
    share = (box[2] - box[0]) * (box[3] - box[1]) / float(target.width * target.height)
    return box, share


def ratio_test_matches(query: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour matches that pass Lowe's ratio test, in query order.

    The matches of OpenCV's brute-force ``knnMatch(k=2)`` with L2 distance (up to exact ties), as one
    matrix product: several times faster on a few hundred descriptors, where the per-match Python
    objects of ``knnMatch`` cost more than the arithmetic.

    Args:
        query: ``(N, D)`` float32 descriptors of the query, each of unit length (RootSIFT's are).
        reference: ``(M, D)`` float32 descriptors of the reference, unit length, ``M >= 2``.

    Returns:
        ``(query_indices, reference_indices)`` of the kept matches.
    """
    # For unit vectors the squared distance is 2 - 2 * dot, so the nearest neighbours are the
    # largest dot products and the ratio test d1 < RATIO * d2 is (1 - dot1) < RATIO^2 * (1 - dot2):
    # the matrix product alone, without the norms and square roots (0.72 -> 0.59 ms for 385 x 450
    # descriptors, most of what is left being the product itself). In place: no temporaries the
    # size of the matrix.
    dots = query @ reference.T
    rows = np.arange(len(query))
    nearest = dots.argmax(axis=1)
    first = dots[rows, nearest]
    dots[rows, nearest] = -np.inf
    second = dots.max(axis=1)
    keep = np.flatnonzero((1.0 - first) < (RATIO * RATIO) * (1.0 - second))
    return keep, nearest[keep]


@dataclass(frozen=True)
class TentativeMatches:
    """Matches that passed the ratio test, before any geometry.

    Attributes:
        query_indices: ``(M,)`` the matched keypoints of the query, each at most once.
        reference_points: ``(M, 2)`` where each matches in the reference, in the reference photo's
            own (unflipped) pixels.
    """

    query_indices: np.ndarray
    reference_points: np.ndarray

    def __len__(self) -> int:
        return len(self.query_indices)


def match_features(query: LocalFeatures, reference: LocalFeatures) -> TentativeMatches:
    """The query's keypoints that match the reference's by Lowe's ratio test."""
    if len(query) < 2 or len(reference) < 2:
        return TentativeMatches(np.zeros(0, dtype=np.int64), np.zeros((0, 2), dtype=np.float32))
    query_indices, reference_indices = ratio_test_matches(query.descriptors, reference.descriptors)
    return TentativeMatches(query_indices, reference.points[reference_indices])


def add_view_matches(
    query: LocalFeatures,
    reference: LocalFeatures,
    matches: TentativeMatches,
    views: Sequence[ForeshortenedView],
) -> TentativeMatches:
    """``matches`` to the photo and, for listing keypoints they leave unmatched, each view's in turn.

    A listing keypoint that matches none of the photo's own keypoints may match one of a
    foreshortened view's; all the matches are in the photo's pixels, so :func:`fit_alignment` fits
    one homography onto the photo. More matches for a package photographed at an angle; also more
    chance matches, which the score model weighs.

    Args:
        query: Features of the listing photo.
        reference: Features of the reference photo ``matches`` were found against.
        matches: :func:`match_features` of the two.
        views: The reference's foreshortened views.

    Raises:
        ValueError: ``reference`` is mirrored (the views are of the unmirrored photo).
    """
    if reference.mirrored:
        raise ValueError("foreshortened views are of the unmirrored reference")
    matched = np.zeros(len(query), dtype=bool)
    matched[matches.query_indices] = True
    all_query, all_reference = [matches.query_indices], [matches.reference_points]
    for view in views:
        if len(view) < 2 or len(query) < 2:
            continue
        view_query, view_reference = ratio_test_matches(query.descriptors, view.descriptors)
        new = ~matched[view_query]
        view_query, view_reference = view_query[new], view_reference[new]
        matched[view_query] = True
        all_query.append(view_query)
        all_reference.append(view.points[view_reference])
    return TentativeMatches(
        np.concatenate(all_query), np.concatenate(all_reference).astype(np.float32, copy=False)
    )


def verify(query: LocalFeatures, reference: LocalFeatures) -> Verification:
    """Matches two photos' features and fits a homography with MAGSAC++.

    Args:
        query: Features of the listing photo.
        reference: Features of the reference photo (possibly of its mirror image).

    Returns:
        The verification; ``inliers`` is 0 when no homography is supported.
    """
    return fit_alignment(query, reference, match_features(query, reference))


def fit_alignment(query: LocalFeatures, reference: LocalFeatures, matches: TentativeMatches) -> Verification:
    """Fits a homography with MAGSAC++ to tentative matches between two photos.

    Args:
        query: Features of the listing photo.
        reference: Features of the reference photo (possibly of its mirror image).
        matches: Tentative matches of the two (:func:`match_features`, :func:`add_view_matches`).

    Returns:
        The verification; ``inliers`` is 0 when no homography is supported.
    """
    query_indices, reference_points = matches.query_indices, matches.reference_points
    if len(query_indices) < MIN_MATCHES:
        return Verification.none(len(query_indices), reference.mirrored)
    query_points = query.points[query_indices]
    # Fit in feature-scale pixels so that one reprojection threshold suits photos of any size; a
    # mirrored reference is fitted in its mirrored frame, where the mapping is a proper homography.
    fit_reference = reference_points * reference.scale
    if reference.mirrored:
        fit_reference[:, 0] = reference.gray.shape[1] - 1 - fit_reference[:, 0]
    homography, mask = cv2.findHomography(
        query_points * query.scale,
        fit_reference,
        cv2.USAC_MAGSAC,
        REPROJECTION_ERROR,
        maxIters=2000,
        confidence=0.999,
    )
    if homography is None or mask is None:
        return Verification.none(len(query_indices), reference.mirrored)
    inlier = mask.ravel().astype(bool)
    count = int(inlier.sum())
    if count < 4:
        return Verification.none(len(query_indices), reference.mirrored)
    return Verification(
        matches=len(query_indices),
        inliers=count,
        inlier_ratio=count / len(query_indices),
        spread=_hull_share(reference_points[inlier], reference.width, reference.height),
        homography=homography,
        query_points=query_points[inlier],
        reference_points=reference_points[inlier],
        mirrored=reference.mirrored,
    )
