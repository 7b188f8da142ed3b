"""Turning photos into the network's input, and the extra views of reference photos."""

from __future__ import annotations

import numpy as np

from vision.preprocess import plain_backdrop, tilt_for_retrieval


def _marked_photo() -> np.ndarray:
    photo = np.full((120, 80, 3), 40, dtype=np.uint8)
    photo[10:20, 35:45] = (250, 0, 0)  # a red mark at the top centre
    return photo


def _red_centre(pixels: np.ndarray) -> tuple[float, float]:
    rows, columns = np.nonzero((pixels[:, :, 0] > 150) & (pixels[:, :, 1] < 100))
    return float(rows.mean()), float(columns.mean())


def test_a_tilted_photo_keeps_its_size_and_turns_counter_clockwise_about_its_centre() -> None:
    photo = _marked_photo()

    tilted = tilt_for_retrieval(photo, 15)

    assert tilted.shape == photo.shape and tilted.dtype == np.uint8
    row, column = _red_centre(tilted)
    # Counter-clockwise on screen: the mark above the centre moves left, and a little down.
    assert column < 40 - 5 and 15 < row < 30
    turned_back = _red_centre(tilt_for_retrieval(photo, -15))
    assert turned_back[1] > 40 + 5


def test_the_corners_a_tilt_uncovers_are_white_like_a_packshot_backdrop() -> None:
    tilted = tilt_for_retrieval(_marked_photo(), 15)

    for corner in (tilted[0, 0], tilted[0, -1], tilted[-1, 0], tilted[-1, -1]):
        assert corner.tolist() == [255, 255, 255]
    assert tilted[60, 40].tolist() == [40, 40, 40]  # the middle is the photo's


def test_the_corners_take_the_backdrop_colour_given() -> None:
    tilted = tilt_for_retrieval(_marked_photo(), -15, backdrop=(10, 20, 30))

    assert tilted[0, 0].tolist() == [10, 20, 30]


def test_a_packshot_on_a_plain_backdrop_has_one_and_a_photo_filling_its_frame_has_none() -> None:
    packshot = np.full((200, 160, 3), 250, dtype=np.uint8)
    packshot[20:190, 40:120] = (200, 30, 30)  # the product, its foot touching the bottom band
    packshot[190:, 60:100] = (200, 30, 30)
    assert plain_backdrop(packshot) == (250, 250, 250)

    scene = np.random.default_rng(0).integers(0, 256, (200, 160, 3), dtype=np.uint8)
    assert plain_backdrop(scene) is None
    half = packshot.copy()
    half[:, :80] = scene[:, :80]  # a plain wall on one side only
    assert plain_backdrop(half) is None


def test_a_photo_too_small_for_a_border_has_no_backdrop() -> None:
    assert plain_backdrop(np.full((3, 3, 3), 255, dtype=np.uint8)) is None
