"""The shipped score model: a probability that grows with the evidence, and a copy rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.scoring import (
    CALIBRATION_FILE,
    CONTEST_MIN_INLIERS,
    DECISIVE_AGREEMENT,
    DECISIVE_INLIERS,
    DECISIVE_LOW_AGREEMENT,
    DECISIVE_SPREAD,
    FEATURES,
    MONOTONIC,
    SIBLING_ANCHOR_MIN_INLIERS,
    SIBLING_ANCHORS,
    UNMEASURED_COLOUR,
    BoostedTrees,
    Evidence,
    ScoreModel,
    default_score_model,
    feature_vector,
    set_relative_evidence,
)


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
    assert len(MONOTONIC) == len(FEATURES)
    assert len(model.trees.roots) > 1
    assert model.trees.feature.max() < len(FEATURES)
    assert 0.0 < model.threshold < 1.0
    assert "calibration half" in model.fitted_on


def test_scores_are_probabilities() -> None:
    model = default_score_model()
    for evidence in (_evidence(0.0), _evidence(1.0, 500, 1.0), _evidence(-1.0)):
        assert 0.0 <= model.probability(evidence) <= 1.0


def test_more_inliers_never_lower_the_score() -> None:
    model = default_score_model()
    for agreement in (0.0, 0.3, 0.95):
        scores = [model.probability(_evidence(0.6, inliers, agreement)) for inliers in (5, 12, 30, 100, 300)]
        assert scores == sorted(scores)


def test_a_closer_embedding_never_lowers_the_score() -> None:
    model = default_score_model()
    for inliers in (0, 20):
        scores = []
        for region_similarity in (0.3, 0.5, 0.7, 0.9):
            evidence = _evidence(0.5, inliers)
            evidence.region_similarity = region_similarity
            scores.append(model.probability(evidence))
        assert scores == sorted(scores)


def test_scoring_candidates_together_gives_each_its_own_score() -> None:
    model = default_score_model()
    evidences = [_evidence(0.4), _evidence(0.7, 150, 0.97), _evidence(0.6, 30, 0.1)]
    together = model.probabilities(evidences)
    assert together.tolist() == pytest.approx([model.probability(evidence) for evidence in evidences])
    assert model.probabilities([]).shape == (0,)


def test_trees_follow_each_split_to_its_leaf() -> None:
    # Two stumps on input 0 (split at 0.5) and input 1 (split at 2.0), log-odds baseline -1.
    trees = BoostedTrees.from_json(
        {
            "baseline": -1.0,
            "trees": [
                [[0, 0.5, 1, 2, 0.0], [-1, 0.0, -1, -1, -0.5], [-1, 0.0, -1, -1, 1.0]],
                [[1, 2.0, 1, 2, 0.0], [-1, 0.0, -1, -1, 0.25], [-1, 0.0, -1, -1, 2.0]],
            ],
        }
    )
    rows = np.array([[0.5, 2.0], [0.6, 2.0], [0.0, 3.0], [1.0, 9.0]])
    assert trees.log_odds(rows).tolist() == pytest.approx([-1.25, 0.25, 0.5, 2.0])
    assert trees.depth == 1
    assert BoostedTrees.from_json(trees.to_json()).log_odds(rows).tolist() == pytest.approx(
        trees.log_odds(rows).tolist()
    )


@pytest.mark.parametrize(
    ("tree", "problem"),
    [
        ([[0, 0.5, 0, 1, 0.0], [-1, 0.0, -1, -1, 1.0]], "points outside"),  # a node its own child
        ([[0, 0.5, 1, 5, 0.0], [-1, 0.0, -1, -1, 1.0]], "points outside"),  # a child past the end
        ([[99, 0.5, 1, 2, 0.0], [-1, 0.0, -1, -1, 1.0], [-1, 0.0, -1, -1, 0.0]], "beyond"),
    ],
)
def test_a_malformed_score_tree_is_refused(tmp_path: Path, tree: list[list[float]], problem: str) -> None:
    payload = json.loads(CALIBRATION_FILE.read_text())
    payload["score_trees"]["trees"] = [tree]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=problem):
        ScoreModel.load(path)


def test_a_calibration_without_trees_is_refused(tmp_path: Path) -> None:
    payload = json.loads(CALIBRATION_FILE.read_text())
    payload["score_trees"]["trees"] = []
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="no trees"):
        ScoreModel.load(path)


def test_a_verified_aligned_copy_flags_and_a_lone_similarity_does_not() -> None:
    model = default_score_model()
    assert model.probability(_evidence(0.7, 150, 0.97)) >= model.threshold
    assert model.probability(_evidence(0.7)) < model.threshold


def test_agreeing_pixels_make_a_copy_and_disagreeing_ones_a_product() -> None:
    model = default_score_model()
    assert model.is_copy(_evidence(0.7, 100, 0.95))
    assert not model.is_copy(_evidence(0.7, 100, 0.1))
    assert not model.is_copy(_evidence(0.7, 0, 0.0))


def _doubtful_trees(floor: float) -> ScoreModel:
    """The shipped model with trees that doubt everything (log-odds -5) and the given floor."""
    return replace(default_score_model(), trees=BoostedTrees.constant(-5.0), decisive_copy_score=floor)


def test_a_decisive_copy_scores_at_least_the_floor_whatever_the_trees_say() -> None:
    model = _doubtful_trees(0.98)
    decisive = replace(
        _evidence(0.45, DECISIVE_INLIERS, DECISIVE_AGREEMENT),
        agreement_low=DECISIVE_LOW_AGREEMENT,
        spread=DECISIVE_SPREAD,
    )
    assert model.is_decisive_copy(decisive)
    assert model.tree_probabilities([decisive])[0] < 0.01
    assert model.probability(decisive) == pytest.approx(0.98)


def test_copies_short_of_decisive_keep_the_trees_score() -> None:
    model = _doubtful_trees(0.98)
    decisive = replace(_evidence(0.45, 100, 0.99), agreement_low=0.95, spread=0.5)
    short_of_it = [
        replace(decisive, agreement=DECISIVE_AGREEMENT - 0.01),
        # A shared background agrees around the garments only, or covers little of the reference.
        replace(decisive, agreement_low=DECISIVE_LOW_AGREEMENT - 0.01),
        replace(decisive, spread=DECISIVE_SPREAD - 0.01),
        replace(decisive, inliers=DECISIVE_INLIERS - 1),
        replace(decisive, verified=False),
    ]
    for evidence in short_of_it:
        assert not model.is_decisive_copy(evidence)
        assert model.probability(evidence) < 0.01
    assert model.probabilities([decisive, *short_of_it]).tolist()[0] == pytest.approx(0.98)


def test_without_a_floor_decisive_copies_keep_the_trees_score() -> None:
    model = _doubtful_trees(0.0)
    decisive = replace(_evidence(0.45, 100, 0.99), agreement_low=0.95, spread=0.5)
    assert model.probability(decisive) == pytest.approx(model.tree_probabilities([decisive])[0])


def test_the_floor_is_saved_and_an_older_calibration_loads_without_one(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(replace(default_score_model(), decisive_copy_score=0.97).to_json()))
    assert ScoreModel.load(path).decisive_copy_score == 0.97
    older = json.loads(CALIBRATION_FILE.read_text())
    del older["decisive_copy_score"]
    path.write_text(json.dumps(older))
    assert ScoreModel.load(path).decisive_copy_score == 0.0


def test_the_shipped_calibration_has_a_decisive_copy_floor_above_its_threshold() -> None:
    for model in (default_score_model(), default_score_model(confirmed_photos=True)):
        assert model.threshold < model.decisive_copy_score < 1.0


def test_a_calibration_for_other_features_is_refused(tmp_path: Path) -> None:
    payload = json.loads(CALIBRATION_FILE.read_text())
    payload["features"] = ["similarity"]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="fitted for features"):
        ScoreModel.load(path)


def test_inlier_margins_compare_each_candidate_with_the_best_other() -> None:
    evidences = [_evidence(0.6, 40), _evidence(0.6, 10), _evidence(0.6)]
    set_relative_evidence(evidences)
    assert evidences[0].inlier_margin > 0
    assert evidences[1].inlier_margin == pytest.approx(-evidences[0].inlier_margin)
    assert evidences[2].inlier_margin < evidences[1].inlier_margin
    lone = [_evidence(0.6, 20)]
    set_relative_evidence(lone)
    assert lone[0].inlier_margin > 0  # no other candidate: measured against no inliers


def test_candidates_behind_the_closest_embedding_know_how_far_behind() -> None:
    evidences = [_evidence(0.7, 10), _evidence(0.5, 30), _evidence(0.6)]
    set_relative_evidence(evidences)
    assert [evidence.region_rank for evidence in evidences] == [0, 2, 1]
    assert [evidence.region_gap for evidence in evidences] == pytest.approx([0.0, 0.2, 0.1])
    assert [evidence.whole_gap for evidence in evidences] == pytest.approx([0.0, 0.2, 0.1])


def test_standing_further_behind_the_closest_candidate_never_raises_the_score() -> None:
    model = default_score_model()
    scores = []
    for gap in (0.0, 0.05, 0.1, 0.2):
        evidence = _evidence(0.6, 30, 0.1)
        evidence.region_gap = evidence.whole_gap = gap
        scores.append(model.probability(evidence))
    assert scores == sorted(scores, reverse=True)


def test_the_margin_counts_for_product_evidence_only() -> None:
    model = default_score_model()
    position = FEATURES.index("product_margin_gain")
    copy, product = _evidence(0.7, 100, 0.95), _evidence(0.7, 100, 0.1)
    copy.inlier_margin = product.inlier_margin = 2.0
    assert feature_vector(copy, model.copy_agreement)[position] == 0.0
    assert feature_vector(product, model.copy_agreement)[position] > 0.0


def test_a_clear_lead_over_sibling_products_scores_higher() -> None:
    model = default_score_model()
    leading, tied, trailing = _evidence(0.6, 30, 0.1), _evidence(0.6, 30, 0.1), _evidence(0.6, 30, 0.1)
    leading.inlier_margin, tied.inlier_margin, trailing.inlier_margin = 1.5, 0.0, -1.5
    assert model.probability(leading) > model.probability(trailing)
    assert model.probability(leading) >= model.probability(tied) >= model.probability(trailing)


def test_a_calibration_without_the_weak_match_limit_never_verifies_deeper(tmp_path: Path) -> None:
    payload = json.loads(CALIBRATION_FILE.read_text())
    del payload["weak_inliers"], payload["verify_limit_weak"]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(payload))
    model = ScoreModel.load(path)
    assert model.verify_limit_weak == 0
    assert model.shortlist_size(5) == max(5, model.verify_limit)


def test_a_score_model_can_be_hashed_and_compared() -> None:
    model = default_score_model()
    assert hash(model) == hash(model)
    assert model == model
    assert replace(model, threshold=0.5) != model


def test_colour_excess_compares_each_candidate_with_the_closest_coloured_one() -> None:
    evidences = [_evidence(0.6, 30), _evidence(0.6, 28), _evidence(0.5)]
    evidences[0].colour_difference, evidences[1].colour_difference = 4.0, 19.5
    set_relative_evidence(evidences)
    assert [evidence.colour_excess for evidence in evidences] == pytest.approx([0.0, 15.5, 0.0])


def test_an_unmeasured_colour_never_counts_like_a_matching_one() -> None:
    position = FEATURES.index("colour_difference")
    measured, unmeasured = _evidence(0.6, 30, 0.1), _evidence(0.6, 30, 0.1)
    measured.colour_difference = 3.0
    assert feature_vector(unmeasured)[position] == UNMEASURED_COLOUR > 3.0
    model = default_score_model()
    assert model.probability(unmeasured) <= model.probability(measured)


def test_a_sibling_further_off_in_colour_never_scores_higher() -> None:
    model = default_score_model()
    scores = []
    for excess in (0.0, 5.0, 15.0, 40.0):
        evidence = _evidence(0.6, 30, 0.1)
        evidence.colour_difference, evidence.colour_excess = 10.0 + excess, excess
        scores.append(model.probability(evidence))
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1] + 0.1  # the fitted trees do use colour


def test_catalogs_with_confirmed_photos_have_a_model_of_their_own() -> None:
    brand_photos, confirmed = default_score_model(), default_score_model(confirmed_photos=True)
    assert confirmed is not brand_photos
    assert "confirmed photos" in confirmed.fitted_on
    # Same gates and copy rule: only the trees and the threshold learned from confirmed photos.
    assert (confirmed.verify_similarity, confirmed.verify_margin, confirmed.copy_agreement) == (
        brand_photos.verify_similarity,
        brand_photos.verify_margin,
        brand_photos.copy_agreement,
    )
    # The model of brand-photo catalogs never saw a confirmed photo, so never splits on one.
    confirmed_inputs = {FEATURES.index(name) for name in FEATURES if "confirmed" in name}
    assert not confirmed_inputs & set(brand_photos.trees.feature[brand_photos.trees.feature >= 0].tolist())
    assert confirmed_inputs & set(confirmed.trees.feature[confirmed.trees.feature >= 0].tolist())


def test_confirmed_gap_compares_each_candidate_with_the_closest_confirmed_photo() -> None:
    evidences = [_evidence(0.6, 30), _evidence(0.6, 28), _evidence(0.5)]
    evidences[0].confirmed_similarity, evidences[1].confirmed_similarity = 0.85, 0.7
    evidences[0].confirmed_photos = evidences[1].confirmed_photos = 3
    set_relative_evidence(evidences)
    # A product with no confirmed photo has nothing measured, as an unaligned colour.
    assert [evidence.confirmed_gap for evidence in evidences] == pytest.approx([0.0, 0.15, 0.0])


def test_a_closer_confirmed_photo_never_lowers_the_score_and_trailing_one_never_raises_it() -> None:
    model = default_score_model(confirmed_photos=True)
    closer, behind = [], []
    for value in (0.4, 0.6, 0.8, 0.95):
        evidence = _evidence(0.55, 14, 0.1)
        evidence.confirmed_similarity, evidence.confirmed_photos = value, 5
        closer.append(model.probability(evidence))
        evidence = _evidence(0.55, 14, 0.1)
        evidence.confirmed_similarity, evidence.confirmed_photos = 0.7, 5
        evidence.confirmed_gap = value - 0.4
        behind.append(model.probability(evidence))
    assert closer == sorted(closer)
    assert behind == sorted(behind, reverse=True)
    assert closer[-1] > closer[0] + 0.1  # the fitted trees do use it


def _contesting(margin: float | None = 3.0, ratio: float = 0.3) -> ScoreModel:
    return replace(default_score_model(), contest_margin=margin, contest_ratio=ratio)


def test_the_colour_contest_is_between_the_best_two_by_score() -> None:
    evidences = [_evidence(inliers=20), _evidence(inliers=30), _evidence(inliers=25)]
    assert _contesting().contested_pair([0.2, 0.9, 0.5], evidences) == (1, 2)


def test_no_colour_contest_for_a_far_weaker_runner_up_a_weak_alignment_or_a_copy() -> None:
    model = _contesting(ratio=0.3)
    aligned = [_evidence(inliers=30), _evidence(inliers=25)]
    assert model.contested_pair([0.9, 0.26], aligned) is None
    assert model.contested_pair([0.9, 0.28], aligned) == (0, 1)
    weak = [_evidence(inliers=30), _evidence(inliers=CONTEST_MIN_INLIERS - 1)]
    assert model.contested_pair([0.9, 0.8], weak) is None
    copy = [_evidence(inliers=60, agreement=0.99), _evidence(inliers=25)]
    assert model.is_copy(copy[0])
    assert model.contested_pair([0.9, 0.8], copy) is None
    assert model.contested_pair([0.9], aligned[:1]) is None


def test_no_colour_contest_for_a_product_with_confirmed_shop_photos() -> None:
    model = _contesting(ratio=0.3)
    aligned = [_evidence(inliers=30), _evidence(inliers=25)]
    aligned[1].confirmed_photos = 3
    assert model.contested_pair([0.9, 0.8], aligned) is None


def test_a_model_without_a_contest_margin_holds_no_contest_and_overturns_nothing() -> None:
    model = _contesting(margin=None)
    assert model.contested_pair([0.9, 0.8], [_evidence(inliers=30), _evidence(inliers=25)]) is None
    assert not model.overturns(1000.0)


def test_only_a_colour_win_beyond_the_margin_overturns() -> None:
    model = _contesting(margin=3.0)
    assert not model.overturns(3.0)
    assert model.overturns(3.5)
    assert not model.overturns(-20.0)


def test_a_runner_up_winning_its_contest_by_the_margin_trades_scores_with_the_best() -> None:
    model = _contesting(margin=3.0, ratio=0.3)
    evidences = [_evidence(inliers=20), _evidence(inliers=30), _evidence(inliers=25)]
    scores = np.array([0.2, 0.9, 0.5])
    asked: list[tuple[int, int]] = []

    def closer_by(gain: float | None) -> Callable[[int, int], float | None]:
        def second_closer_by(first: int, second: int) -> float | None:
            asked.append((first, second))
            return gain

        return second_closer_by

    assert model.after_contest(scores, evidences, closer_by(5.0)).tolist() == [0.2, 0.5, 0.9]
    assert asked == [(1, 2)]
    assert scores.tolist() == [0.2, 0.9, 0.5]
    for gain in (3.0, -5.0, None):
        assert model.after_contest(scores, evidences, closer_by(gain)) is scores
    assert _contesting(margin=None).after_contest(scores, evidences, closer_by(50.0)) is scores


def test_the_contest_is_saved_and_an_older_calibration_loads_without_one(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(_contesting(margin=4.0, ratio=0.2).to_json()))
    loaded = ScoreModel.load(path)
    assert (loaded.contest_margin, loaded.contest_ratio) == (4.0, 0.2)
    older = json.loads(CALIBRATION_FILE.read_text())
    older.pop("contest_margin", None)
    older.pop("contest_ratio", None)
    path.write_text(json.dumps(older))
    assert ScoreModel.load(path).contest_margin is None


def test_siblings_are_verified_for_the_best_aligned_candidates_of_an_uncertain_photo_only() -> None:
    model = replace(default_score_model(), threshold=0.8, copy_agreement=0.74)
    aligned = SIBLING_ANCHOR_MIN_INLIERS
    evidences = [
        _evidence(inliers=aligned),
        _evidence(inliers=aligned - 1),  # too weakly aligned to compare colours on
        _evidence(inliers=30, agreement=0.99),  # a copy: pixels decide, not siblings
        _evidence(inliers=40),
        _evidence(inliers=40),
    ]
    scores = np.array([0.7, 0.6, 0.5, 0.4, 0.3])
    assert SIBLING_ANCHORS == 2
    # The best two by score are anchors only where aligned and not copies.
    assert model.sibling_anchors(scores, evidences) == [0]
    assert model.sibling_anchors(np.array([0.3, 0.4, 0.5, 0.7, 0.6]), evidences) == [3, 4]
    # A photo the model flags gets none, whatever an operator's threshold.
    assert model.sibling_anchors(np.array([0.8, 0.6, 0.5, 0.4, 0.3]), evidences) == []
    # Calibration: every aligned candidate that is not a copy.
    assert model.sibling_anchors(np.array([0.9] * 5), evidences, every=True) == [0, 3, 4]
    assert model.sibling_anchors(np.zeros(0), []) == []
