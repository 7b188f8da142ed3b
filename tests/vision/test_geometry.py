"""Local features and geometric verification on real photos and their edits."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision import geometry
from vision.decode import read_image
from vision.geometry import (
    FORESHORTENINGS,
    RATIO,
    add_view_matches,
    colour_copy,
    extract_features,
    fit_alignment,
    foreshortened_view,
    listing_footprint,
    match_features,
    ratio_test_matches,
    reference_footprint,
    verify,
)

DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.fixture(scope="module")
def garment() -> np.ndarray:
    return read_image(DEMO / "catalog" / "images" / "DA-003.jpg").pixels


@pytest.fixture(scope="module")
def other_garment() -> np.ndarray:
    return read_image(DEMO / "catalog" / "images" / "DA-007.jpg").pixels


def _crop_rotate_and_caption(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    crop = pixels[height // 8 : height - height // 10, width // 10 : width - width // 6].copy()
    rotation = cv2.getRotationMatrix2D((crop.shape[1] / 2, crop.shape[0] / 2), 12, 1.0)
    rotated = cv2.warpAffine(crop, rotation, (crop.shape[1], crop.shape[0]), borderValue=(255, 255, 255))
    cv2.putText(rotated, "SALE -70%", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 0, 0), 3)
    return rotated


def test_a_cropped_rotated_captioned_copy_is_verified_with_many_inliers(garment: np.ndarray) -> None:
    copy = _crop_rotate_and_caption(garment)
    found = verify(extract_features(copy), extract_features(garment))
    assert found.inliers >= 20
    assert found.inlier_ratio > 0.5
    assert found.query_points.shape == found.reference_points.shape == (found.inliers, 2)


def test_inlier_pairs_are_in_each_photos_own_pixels(garment: np.ndarray) -> None:
    height, width = garment.shape[:2]
    top, left = height // 8, width // 10
    crop = garment[top:, left:].copy()
    found = verify(extract_features(crop), extract_features(garment))
    offsets = found.reference_points - found.query_points
    assert np.allclose(np.median(offsets, axis=0), [left, top], atol=2.0)


def test_an_unrelated_photo_is_not_verified(garment: np.ndarray, other_garment: np.ndarray) -> None:
    found = verify(extract_features(other_garment), extract_features(garment))
    assert found.inliers < 12


def test_a_mirrored_copy_matches_the_mirrored_reference_only(garment: np.ndarray) -> None:
    mirrored_copy = np.ascontiguousarray(garment[:, ::-1])
    query = extract_features(mirrored_copy)
    plain = verify(query, extract_features(garment))
    flipped = verify(query, extract_features(garment, mirrored=True))
    assert flipped.mirrored and flipped.inliers >= 20 > plain.inliers
    width = garment.shape[1]
    # Pairs are reported in the unflipped reference: x in the copy is width - 1 - x there.
    assert np.allclose(
        found_x := flipped.reference_points[:, 0], width - 1 - flipped.query_points[:, 0], atol=3.0
    )
    assert len(found_x) == flipped.inliers


def test_a_flat_image_has_no_features_and_verifies_nothing(garment: np.ndarray) -> None:
    flat = np.full((200, 300, 3), 128, dtype=np.uint8)
    features = extract_features(flat)
    assert len(features) == 0
    found = verify(features, extract_features(garment))
    assert found.inliers == 0 and found.homography is None


def test_large_photos_are_described_at_feature_scale(garment: np.ndarray) -> None:
    large = cv2.resize(garment, (garment.shape[1] * 3, garment.shape[0] * 3))
    features = extract_features(large)
    assert max(features.gray.shape) <= 192
    assert features.points[:, 0].max() > garment.shape[1]  # positions stay in the large photo's pixels


def test_ratio_test_matches_are_the_ones_opencvs_brute_force_matcher_keeps(
    garment: np.ndarray, other_garment: np.ndarray
) -> None:
    query = extract_features(_crop_rotate_and_caption(garment))
    brute_force = cv2.BFMatcher(cv2.NORM_L2)
    for reference in (extract_features(garment), extract_features(other_garment)):
        pairs = brute_force.knnMatch(query.descriptors, reference.descriptors, k=2)
        expected = [
            (first.queryIdx, first.trainIdx)
            for first, second in pairs
            if first.distance < RATIO * second.distance
        ]
        query_indices, reference_indices = ratio_test_matches(query.descriptors, reference.descriptors)
        assert list(zip(query_indices.tolist(), reference_indices.tolist(), strict=True)) == expected


def test_colour_is_kept_beside_the_greyscale_copy_and_mirrored_with_it(garment: np.ndarray) -> None:
    plain, mirrored = extract_features(garment), extract_features(garment, mirrored=True)
    assert plain.chroma is not None and mirrored.chroma is not None
    assert plain.chroma.shape == (*plain.gray.shape, 2)
    assert np.array_equal(mirrored.chroma, plain.chroma[:, ::-1])


@pytest.mark.parametrize("mirrored", [False, True])
def test_a_colour_copy_made_later_equals_the_one_made_with_the_features(
    garment: np.ndarray, mirrored: bool
) -> None:
    eager = extract_features(garment, mirrored=mirrored)
    lazy = extract_features(garment, mirrored=mirrored, colour=False)
    assert lazy.chroma is None
    assert np.array_equal(lazy.descriptors, eager.descriptors)
    assert eager.chroma is not None
    assert np.array_equal(colour_copy(garment, lazy), eager.chroma)


def test_the_colour_copy_of_a_greyscale_photo_is_neutral(garment: np.ndarray) -> None:
    gray = cv2.cvtColor(garment, cv2.COLOR_RGB2GRAY)
    features = extract_features(gray, colour=False)
    assert np.all(colour_copy(gray, features) == 128)


def test_a_crop_lands_on_the_part_of_the_reference_it_was_cut_from(garment: np.ndarray) -> None:
    height, width = garment.shape[:2]
    top, left = height // 5, width // 4
    crop = garment[top : top + height // 2, left : left + width // 2].copy()
    reference = extract_features(garment)
    found = verify(extract_features(crop), reference)
    assert found.homography is not None
    footprint = listing_footprint(extract_features(crop), reference, found.homography)
    assert footprint is not None
    box, share = footprint
    expected = (left, top, left + width // 2, top + height // 2)
    assert all(abs(got - want) <= 4 for got, want in zip(box, expected, strict=True))
    assert share == pytest.approx(0.25, abs=0.03)


def _pasted(pixels: np.ndarray, scale: float, at: tuple[int, int], canvas_side: int) -> np.ndarray:
    """``pixels`` shrunk by ``scale`` onto a smooth noise canvas, its top-left corner at ``at``."""
    noise = np.random.default_rng(3).integers(0, 255, (canvas_side, canvas_side, 3), dtype=np.uint8)
    canvas = cv2.GaussianBlur(noise, (0, 0), 3)
    small = cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    left, top = at
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    return canvas


def test_a_photo_shown_small_in_a_listing_is_found_in_the_part_it_fills(garment: np.ndarray) -> None:
    height, width = garment.shape[:2]
    side = 2 * max(height, width)
    listing = _pasted(garment, 0.9, (side // 10, side // 8), side)
    query, reference = extract_features(listing), extract_features(garment)
    found = verify(query, reference)
    assert found.homography is not None
    footprint = reference_footprint(query, reference, found.homography)
    assert footprint is not None
    box, share = footprint
    expected = (side // 10, side // 8, side // 10 + round(width * 0.9), side // 8 + round(height * 0.9))
    assert all(abs(got - want) <= 6 for got, want in zip(box, expected, strict=True))
    assert share == pytest.approx(0.9 * 0.9 * height * width / side**2, abs=0.03)


def test_a_heavily_blurred_copy_is_described_again_at_a_lower_contrast_threshold(
    other_garment: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    blurred = cv2.GaussianBlur(other_garment, (0, 0), 4)
    source = extract_features(other_garment)
    twice = extract_features(blurred)
    few = geometry.LOW_KEYPOINTS
    monkeypatch.setattr(geometry, "LOW_KEYPOINTS", 0)  # the first pass alone
    once = extract_features(blurred)

    assert len(once) < few < len(source)
    assert len(twice) > 2 * len(once)
    assert verify(twice, source).inliers > verify(once, source).inliers


def test_a_photo_with_enough_keypoints_is_described_once(
    other_garment: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    described = extract_features(other_garment)
    few = geometry.LOW_KEYPOINTS
    monkeypatch.setattr(geometry, "LOW_KEYPOINTS", 0)
    first_pass = extract_features(other_garment)

    assert len(described) >= few
    # OpenCV's threads may list the same keypoints in another order.
    np.testing.assert_array_equal(np.unique(described.points, axis=0), np.unique(first_pass.points, axis=0))


@pytest.fixture(scope="module")
def packshot() -> np.ndarray:
    return read_image(DEMO / "catalog" / "images" / "Arla-Natural-Yoghurt.jpg").pixels


def _turned_away(pixels: np.ndarray, axis: str, squeeze: float) -> tuple[np.ndarray, np.ndarray]:
    """The photo as a package turned away from the camera about its upright (``x``) or its level
    (``y``) axis: one face foreshortened to ``squeeze`` with its far edge shorter, on a grey shelf.
    Returns the shot and the perspective transform from the photo's pixels to the shot's."""
    height, width = pixels.shape[:2]
    left, top = width / 2, height / 2
    if axis == "x":
        corners = [
            [left, top],
            [left + width * squeeze, top + 0.08 * height],
            [left + width * squeeze, top + 0.92 * height],
            [left, top + height],
        ]
    else:
        corners = [
            [left, top],
            [left + width, top],
            [left + 0.92 * width, top + height * squeeze],
            [left + 0.08 * width, top + height * squeeze],
        ]
    photo_corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    transform = cv2.getPerspectiveTransform(photo_corners, np.float32(corners))
    shot = cv2.warpPerspective(pixels, transform, (2 * width, 2 * height), borderValue=(90, 100, 110))
    return shot, transform


def test_foreshortened_views_keep_their_keypoints_in_the_photos_own_pixels(packshot: np.ndarray) -> None:
    height, width = packshot.shape[:2]
    photo = extract_features(packshot)
    for width_factor, height_factor in FORESHORTENINGS:
        view = foreshortened_view(packshot, width_factor, height_factor)
        assert len(view) > 100 and view.descriptors.shape == (len(view), 128)
        assert (view.points >= -1).all() and (view.points[:, 0] <= width).all()
        assert (view.points[:, 1] <= height).all()
        # Spread over the whole photo like the photo's own keypoints, not over a squeezed part of it.
        assert np.allclose(view.points.max(axis=0), photo.points.max(axis=0), rtol=0.1)


@pytest.mark.parametrize("axis", ["x", "y"])
def test_a_package_turned_far_away_aligns_through_its_foreshortened_views(
    packshot: np.ndarray, axis: str
) -> None:
    shot, transform = _turned_away(packshot, axis, 0.5)
    listing = extract_features(shot)
    reference = extract_features(packshot)
    views = [foreshortened_view(packshot, *factors) for factors in FORESHORTENINGS]

    matches = match_features(listing, reference)
    plain = fit_alignment(listing, reference, matches)
    turned = fit_alignment(listing, reference, add_view_matches(listing, reference, matches, views))

    assert turned.inliers >= 12 and turned.inliers > 1.5 * plain.inliers
    # The inlier pairs, matches to a view included, are the same points of the package: taken back
    # through the known turn, the shot's points land on the photo's (the median within 3 px).
    back = cv2.perspectiveTransform(turned.query_points.reshape(-1, 1, 2), np.linalg.inv(transform))
    assert np.median(np.linalg.norm(back.reshape(-1, 2) - turned.reference_points, axis=1)) < 3.0


def test_foreshortened_views_are_of_the_unmirrored_photo_only(packshot: np.ndarray) -> None:
    views = [foreshortened_view(packshot, *FORESHORTENINGS[0])]
    listing, mirrored = extract_features(packshot), extract_features(packshot, mirrored=True)
    with pytest.raises(ValueError, match="unmirrored"):
        add_view_matches(listing, mirrored, match_features(listing, mirrored), views)
