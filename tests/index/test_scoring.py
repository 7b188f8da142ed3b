"""The shipped score model: a probability that grows with the evidence, and a copy rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.scoring import CALIBRATION_FILE, FEATURES, Evidence, ScoreModel, default_score_model


def _evidence(similarity: float = 0.6, inliers: int = 0, agreement: float = 0.0) -> Evidence:
    return Evidence(
        similarity=similarity,
        region_similarity=similarity,
        region=[0, 0, 10, 10],
        verified=inliers > 0,
        matches=inliers * 2,
        inliers=inliers,
        inlier_ratio=0.5 if inliers else 0.0,
        spread=0.3 if inliers else 0.0,
        agreement=agreement,
    )


def test_the_shipped_calibration_loads_and_names_its_data() -> None:
    model = default_score_model()
    assert len(model.weights) == len(FEATURES)
    assert 0.0 < model.threshold < 1.0
    assert "calibration half" in model.fitted_on


def test_scores_are_probabilities() -> None:
    model = default_score_model()
    for evidence in (_evidence(0.0), _evidence(1.0, 500, 1.0), _evidence(-1.0)):
        assert 0.0 <= model.probability(evidence) <= 1.0


def test_more_inliers_never_lower_the_score() -> None:
    model = default_score_model()
    scores = [model.probability(_evidence(0.6, inliers, 0.95)) for inliers in (0, 5, 12, 30, 100, 300)]
    assert scores == sorted(scores)


def test_a_verified_aligned_copy_flags_and_a_lone_similarity_does_not() -> None:
    model = default_score_model()
    assert model.probability(_evidence(0.7, 150, 0.97)) >= model.threshold
    assert model.probability(_evidence(0.7)) < model.threshold


def test_agreeing_pixels_make_a_copy_and_disagreeing_ones_a_product() -> None:
    model = default_score_model()
    assert model.is_copy(_evidence(0.7, 100, 0.95))
    assert not model.is_copy(_evidence(0.7, 100, 0.1))
    assert not model.is_copy(_evidence(0.7, 0, 0.0))


def test_a_calibration_for_other_features_is_refused(tmp_path: Path) -> None:
    payload = json.loads(CALIBRATION_FILE.read_text())
    payload["features"] = ["similarity"]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="fitted for features"):
        ScoreModel.load(path)
