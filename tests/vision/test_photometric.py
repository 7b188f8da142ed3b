"""Photometric agreement tells a reused photo from a different photo aligned onto it; colour tells
siblings apart."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from sibling_packages import blueberry_packshot, shop_photo, vanilla_sibling

from vision.decode import read_image
from vision.geometry import LocalFeatures, extract_features, verify
from vision.photometric import (
    CONTEST_MIN_PIXELS,
    agreement,
    agreement_quartiles,
    colour_contest,
    colour_difference,
)

DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.fixture(scope="module")
def garment() -> np.ndarray:
    return read_image(DEMO / "catalog" / "images" / "DA-005.jpg").pixels


def test_a_recoloured_cropped_copy_agrees_almost_everywhere(garment: np.ndarray) -> None:
    height, width = garment.shape[:2]
    copy = garment[height // 10 :, : width - width // 8].copy()
    copy = cv2.cvtColor(cv2.cvtColor(copy, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    copy = np.clip(copy.astype(np.int16) * 0.8 + 30, 0, 255).astype(np.uint8)
    query, reference = extract_features(copy), extract_features(garment)
    found = verify(query, reference)
    assert found.homography is not None
    assert agreement(query, reference, found.homography) > 0.8


def test_a_copy_shown_small_in_a_larger_photo_agrees_on_the_part_it_fills(garment: np.ndarray) -> None:
    height, width = garment.shape[:2]
    side = 3 * max(height, width)
    noise = np.random.default_rng(5).integers(0, 255, (side, side, 3), dtype=np.uint8)
    listing = cv2.GaussianBlur(noise, (0, 0), 3)
    listing[side // 3 : side // 3 + height, side // 4 : side // 4 + width] = garment
    query, reference = extract_features(listing), extract_features(garment)
    found = verify(query, reference)
    assert found.homography is not None
    # The copy fills about a ninth of the listing: compared on the whole frame's grid, too few
    # blocks would fall inside it to judge.
    assert agreement(query, reference, found.homography) > 0.8


def test_another_photo_put_in_the_same_place_does_not_agree(garment: np.ndarray) -> None:
    other = read_image(DEMO / "catalog" / "images" / "DA-001.jpg").pixels
    other = cv2.resize(other, (garment.shape[1], garment.shape[0]))
    query, reference = extract_features(other), extract_features(garment)
    identity = np.diag([reference.scale / query.scale, reference.scale / query.scale, 1.0])
    assert agreement(query, reference, identity) < 0.4


def test_a_copy_agrees_in_nearly_every_block_a_shared_background_only_around_the_object(
    garment: np.ndarray,
) -> None:
    height, width = garment.shape[:2]
    copy = cv2.GaussianBlur(garment, (0, 0), 0.8)
    # The same scene with something else lying on two fifths of it, as another garment on the
    # reference's floor.
    other = read_image(DEMO / "catalog" / "images" / "DA-001.jpg").pixels
    shared = garment.copy()
    shared[:, : width * 2 // 5] = cv2.resize(other, (width * 2 // 5, height))
    reference = extract_features(garment)
    identity = np.eye(3)

    copy_median, copy_low = agreement_quartiles(extract_features(copy), reference, identity)
    shared_median, shared_low = agreement_quartiles(extract_features(shared), reference, identity)

    assert copy_median > 0.9 and copy_low > 0.8
    assert shared_median > 0.8  # most of the scene is the reference's own
    assert shared_low < 0.5
    assert agreement(extract_features(shared), reference, identity) == shared_median


def test_an_alignment_that_leaves_the_photo_agrees_with_nothing(garment: np.ndarray) -> None:
    features = extract_features(garment)
    far_away = np.array([[1.0, 0.0, 5000.0], [0.0, 1.0, 5000.0], [0.0, 0.0, 1.0]])
    assert agreement(features, features, far_away) == 0.0
    assert agreement_quartiles(features, features, far_away) == (0.0, 0.0)


def _hue_shifted(pixels: np.ndarray, degrees: int) -> np.ndarray:
    hsv = cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV)
    hsv[:, :, 0] = (hsv[:, :, 0].astype(np.int16) + degrees // 2) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def test_the_same_print_differs_little_in_colour_a_recoloured_sibling_much(garment: np.ndarray) -> None:
    height, width = garment.shape[:2]
    shop_photo = garment[height // 12 :, width // 10 :].copy()
    sibling = _hue_shifted(garment, 120)  # the same design printed in another colour
    query = extract_features(shop_photo)
    same, other = extract_features(garment), extract_features(sibling)
    found_same, found_other = verify(query, same), verify(query, other)
    assert found_same.homography is not None and found_other.homography is not None
    own = colour_difference(query, same, found_same.homography)
    recoloured = colour_difference(query, other, found_other.homography)
    assert own is not None and recoloured is not None
    assert own < 3.0 < 10.0 < recoloured


def test_a_mirrored_reference_is_compared_in_its_mirrored_frame(garment: np.ndarray) -> None:
    # Left half recoloured: compared unmirrored, every pixel would meet the other half's colour.
    two_colours = garment.copy()
    two_colours[:, : garment.shape[1] // 2] = _hue_shifted(garment[:, : garment.shape[1] // 2], 120)
    query = extract_features(np.ascontiguousarray(two_colours[:, ::-1]))
    reference = extract_features(two_colours, mirrored=True)
    found = verify(query, reference)
    assert found.homography is not None
    difference = colour_difference(query, reference, found.homography)
    assert difference is not None and difference < 3.0


def test_a_greyscale_photo_has_neutral_colour(garment: np.ndarray) -> None:
    gray = cv2.cvtColor(garment, cv2.COLOR_RGB2GRAY)
    features = extract_features(gray)
    assert features.chroma is not None and features.chroma.shape == (*features.gray.shape, 2)
    assert np.all(features.chroma == 128)


def test_an_alignment_off_the_photo_compares_no_colour(garment: np.ndarray) -> None:
    features = extract_features(garment)
    assert colour_difference(features, features, np.eye(3)) == 0.0
    far_away = np.array([[1.0, 0.0, 5000.0], [0.0, 1.0, 5000.0], [0.0, 0.0, 1.0]])
    assert colour_difference(features, features, far_away) is None


@pytest.fixture(scope="module")
def siblings() -> tuple[LocalFeatures, LocalFeatures]:
    """The blueberry packshot's features and its vanilla sibling's."""
    blueberry = blueberry_packshot()
    return extract_features(blueberry), extract_features(vanilla_sibling(blueberry))


def _aligned(query: LocalFeatures, reference: LocalFeatures) -> tuple[LocalFeatures, np.ndarray]:
    found = verify(query, reference)
    assert found.homography is not None and found.inliers >= 12
    return reference, found.homography


def test_a_shop_photo_sides_with_its_own_sibling_where_the_siblings_differ_in_colour(
    siblings: tuple[LocalFeatures, LocalFeatures],
) -> None:
    blueberry, vanilla = siblings
    query = extract_features(shop_photo(vanilla_sibling(blueberry_packshot())))
    contest = colour_contest(query, _aligned(query, blueberry), _aligned(query, vanilla))
    assert contest is not None and contest.pixels >= 10 * CONTEST_MIN_PIXELS
    assert contest.second_distance < 5 < 25 < contest.first_distance
    assert contest.second_closer_by == pytest.approx(contest.first_distance - contest.second_distance)
    # Over the whole package the shared white carton and the background dominate: the two are
    # within a few units, which is why the contest looks only where the siblings differ.
    whole = [colour_difference(query, *_aligned(query, sibling)) for sibling in siblings]
    assert all(difference is not None for difference in whole)
    assert abs(whole[0] - whole[1]) < 10  # type: ignore[operator]


def test_the_contest_is_symmetric_in_its_contestants(siblings: tuple[LocalFeatures, LocalFeatures]) -> None:
    blueberry, vanilla = siblings
    query = extract_features(shop_photo(blueberry_packshot()))
    forward = colour_contest(query, _aligned(query, vanilla), _aligned(query, blueberry))
    backward = colour_contest(query, _aligned(query, blueberry), _aligned(query, vanilla))
    assert forward is not None and backward is not None
    assert forward.second_closer_by > 20
    assert backward.second_closer_by == pytest.approx(-forward.second_closer_by)


def test_a_greyscale_shop_photo_holds_no_colour_contest(
    siblings: tuple[LocalFeatures, LocalFeatures],
) -> None:
    photo = shop_photo(vanilla_sibling(blueberry_packshot()))
    grey = cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    query = extract_features(grey)
    assert colour_contest(query, *(_aligned(query, sibling) for sibling in siblings)) is None


def test_references_of_one_colour_hold_no_colour_contest(
    siblings: tuple[LocalFeatures, LocalFeatures],
) -> None:
    blueberry, _ = siblings
    query = extract_features(shop_photo(blueberry_packshot()))
    same = _aligned(query, blueberry)
    assert colour_contest(query, same, same) is None
