"""The calibration / held-out split of the development queries and distractors.

A query belongs to the calibration half when the SHA-256 of its name (as ``truth.csv`` gives it, or
``distractors/<file>``) is even: stable across runs and machines, independent of content and label.
``bench/calibrate.py`` learns only from the calibration half; ``bench/run.py`` reports the held-out
half separately.
"""

from __future__ import annotations

import hashlib


def in_calibration_split(name: str) -> bool:
    """Whether a development query or distractor is in the half the calibration learns from."""
    return hashlib.sha256(name.encode()).digest()[-1] % 2 == 0


def hash_half(text: str) -> int:
    """0 or 1 by the first byte of the SHA-256 of ``text``: a second split, independent of
    :func:`in_calibration_split` (which reads the last byte), for folds within a half and halves of
    the products."""
    return hashlib.sha256(text.encode()).digest()[0] % 2
