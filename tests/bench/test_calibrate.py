"""Fitting the score trees: what the shipped evaluator computes is what scikit-learn fitted."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.calibrate import (
    CONFIRMED_CATALOGS,
    _boosting,
    calibration_text,
    choose_contest,
    confirmed_situations,
    contested,
    decisive_copy_score,
    export_trees,
    fit_trees,
    gated,
    with_siblings,
)
from bench.splits import in_calibration_split
from index.matcher import SIBLINGS_ADDED
from index.scoring import FEATURES, ScoreModel, default_score_model


def _evidence_like(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates whose truth depends on inliers and region similarity, with noise."""
    generator = np.random.default_rng(seed)
    features = generator.random((rows, len(FEATURES)))
    log_odds = 6 * features[:, 2] + 4 * features[:, 1] - 6 + generator.normal(0, 1, rows)
    labels = (log_odds > 0).astype(float)
    groups = np.repeat(np.arange(rows // 4), 4)
    return features, labels, groups


def _log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities)))


def test_exported_trees_give_the_fitted_probabilities() -> None:
    features, labels, _ = _evidence_like(800)
    fitted = _boosting().fit(features, labels)
    trees = export_trees(fitted)
    probabilities = 1.0 / (1.0 + np.exp(-trees.log_odds(features)))
    assert probabilities == pytest.approx(fitted.predict_proba(features)[:, 1], abs=1e-9)


def test_out_of_fold_scores_come_from_trees_that_never_saw_the_query() -> None:
    features, labels, groups = _evidence_like(800)
    trees, out_of_fold = fit_trees(features, labels, groups)
    fitted = 1.0 / (1.0 + np.exp(-trees.log_odds(features)))
    assert out_of_fold.shape == labels.shape
    assert np.all((out_of_fold > 0) & (out_of_fold < 1))
    # Scores on rows a model was fitted on are more confident than on rows it was not.
    assert _log_loss(fitted, labels) < _log_loss(out_of_fold, labels)


def test_the_fitted_score_never_falls_as_inliers_rise() -> None:
    features, labels, groups = _evidence_like(800)
    trees, _ = fit_trees(features, labels, groups)
    sweep = np.tile(features[:1], (50, 1))
    sweep[:, FEATURES.index("log_inliers")] = np.linspace(0, 1, 50)
    assert np.all(np.diff(trees.log_odds(sweep)) >= 0)


def test_the_written_calibration_reads_back_the_same(tmp_path: Path) -> None:
    features, labels, groups = _evidence_like(400)
    trees, _ = fit_trees(features, labels, groups)
    model = replace(default_score_model(), trees=trees)
    path = tmp_path / "calibration.json"
    path.write_text(calibration_text(model))
    loaded = ScoreModel.load(path)
    assert loaded.threshold == model.threshold
    assert loaded.trees.log_odds(features) == pytest.approx(trees.log_odds(features), abs=1e-6)


def test_the_cross_fitted_catalogs_never_hold_a_photo_they_check_nor_a_held_out_one(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "product-match"
    folder.mkdir(parents=True)
    (folder / "references.csv").write_text(
        "sku,name,brand,image\nMilk,Milk,Dairy,references/Milk.jpg\nJuice,Juice,Orchard,references/Juice.jpg\n"
    )
    photos = [(f"queries/photo-{number}.jpg", ["Milk", "Juice", ""][number % 3]) for number in range(90)]
    (folder / "truth.csv").write_text("image,sku\n" + "".join(f"{name},{sku}\n" for name, sku in photos))

    situations = confirmed_situations(tmp_path / "data", tmp_path / "work")

    assert len(situations) == 2 * len(CONFIRMED_CATALOGS)
    checked_anywhere: set[str] = set()
    for situation in situations:
        rows = list(csv.DictReader(situation.catalog_csv.open()))
        in_catalog = {Path(row["image"]).relative_to(folder).as_posix() for row in rows}
        checked = {name for name, _ in situation.queries}
        assert checked and not in_catalog & checked
        assert all(in_calibration_split(name) for name in checked | in_catalog if name.startswith("queries/"))
        assert {row["origin"] for row in rows if "queries/" in row["image"]} == {"confirmed"}
        checked_anywhere |= checked
    # Between the two folds, every calibration-half photo is checked.
    assert checked_anywhere == {name for name, _ in photos if in_calibration_split(name)}


def _collected(
    query: str, truth: str | None, inliers: int, agreement: float, agreement_low: float = 0.95
) -> dict:
    """One collected row with a single verified candidate, as ``bench.calibrate.collect`` writes it."""
    candidate = {
        "sku": "SRC",
        "similarity": 0.6,
        "region_similarity": 0.6,
        "region": [0, 0, 10, 10],
        "verified": True,
        "matches": inliers + 2,
        "inliers": inliers,
        "inlier_ratio": 0.9,
        "spread": 0.5,
        "agreement": agreement,
        "agreement_low": agreement_low,
    }
    return {"set": "copy-detection", "query": query, "truth": truth, "candidates": [candidate]}


def test_the_decisive_copy_floor_is_a_lower_bound_of_the_rules_precision() -> None:
    model = default_score_model()
    copies = [_collected(f"queries/{index}.jpg", "SRC", 100, 0.99) for index in range(60)]
    # Shy of the rule: shared backgrounds (agreeing less, or only around the garments), a weak
    # alignment (few inliers).
    others = [
        _collected("distractors/a.jpg", None, 100, 0.9),
        _collected("distractors/b.jpg", None, 100, 0.97, agreement_low=0.3),
        _collected("distractors/c.jpg", None, 10, 0.99),
    ]
    all_right = decisive_copy_score(copies + others, model)
    assert all_right == pytest.approx(0.05 ** (1 / 60), abs=1e-4)
    one_wrong = decisive_copy_score([*copies, _collected("distractors/d.jpg", None, 100, 0.99)], model)
    assert one_wrong < all_right
    fewer = decisive_copy_score(copies[:20], model)
    assert fewer < all_right
    assert decisive_copy_score(others, model) == 0.0


def _siblings(query: str, truth: str, second_closer_by: float) -> dict:
    """A product photo aligned with two sibling packshots, A ahead of B by inliers, and their colour
    contest: the listing's colours ``second_closer_by`` closer to B's than to A's."""

    def candidate(sku: str, inliers: int, rival: str, distance: float, rival_distance: float) -> dict:
        contest = {"rival": rival, "pixels": 400, "distance": distance, "rival_distance": rival_distance}
        return {
            "sku": sku,
            "similarity": 0.6,
            "region_similarity": 0.6,
            "region": [0, 0, 10, 10],
            "verified": True,
            "matches": inliers + 10,
            "inliers": inliers,
            "inlier_ratio": 0.7,
            "spread": 0.3,
            "agreement": 0.2,
            "agreement_low": 0.1,
            "colour_contests": [{**contest, "overturned": False}],
        }

    near = 10.0
    candidates = [
        candidate("A", 30, "B", near + second_closer_by, near),
        candidate("B", 25, "A", near, near + second_closer_by),
    ]
    return {"set": "product-match", "query": query, "truth": truth, "candidates": candidates}


def _first_by_score(row: dict, model: ScoreModel, scores: list[float]) -> str:
    ((gated_row, evidences),) = gated([row], model)
    after = contested(gated_row, evidences, np.array(scores), model)
    return str(gated_row["candidates"][int(np.argmax(after))]["sku"])


def test_a_runner_up_that_wins_its_colour_contest_by_the_margin_takes_first_place() -> None:
    model = replace(default_score_model(), contest_margin=4.0, contest_ratio=0.5)
    assert _first_by_score(_siblings("queries/1.jpg", "B", 20.0), model, [0.8, 0.6]) == "B"
    assert _first_by_score(_siblings("queries/1.jpg", "B", 3.0), model, [0.8, 0.6]) == "A"
    assert _first_by_score(_siblings("queries/1.jpg", "B", 20.0), model, [0.8, 0.3]) == "A"
    no_contest = replace(model, contest_margin=None)
    assert _first_by_score(_siblings("queries/1.jpg", "B", 20.0), no_contest, [0.8, 0.6]) == "A"


def test_the_contest_rule_is_the_most_cautious_one_that_puts_the_most_right_products_first() -> None:
    # Three photos of B that B wins by far in colour, five photos of A that B wins narrowly.
    rows = [_siblings(f"queries/b{index}.jpg", "B", 20.0) for index in range(3)]
    rows += [_siblings(f"queries/a{index}.jpg", "A", 5.0) for index in range(5)]
    probabilities = np.array([0.8, 0.6] * len(rows))
    fitted = choose_contest(rows, default_score_model(), probabilities)
    # Margins above 5 gain all three B photos and lose no A photo; the largest of them (15) is kept,
    # with the largest ratio the runner-up's scores meet (0.6 / 0.8 >= 0.7).
    assert (fitted.contest_margin, fitted.contest_ratio) == (15.0, 0.7)
    misleading = [_siblings(f"queries/a{index}.jpg", "A", 20.0) for index in range(5)]
    assert choose_contest(misleading, default_score_model(), np.array([0.8, 0.6] * 5)).contest_margin is None


def _with_collected_siblings(anchor_inliers: int = 20) -> dict:
    """A product photo aligned with packshot A and far from C, with four of A's sibling packages
    collected beyond the search's shortlist (closer to the photo's descriptor than A itself)."""

    def candidate(sku: str, region_similarity: float, inliers: int, sibling_of: str | None = None) -> dict:
        found = {
            "sku": sku,
            "similarity": region_similarity,
            "region_similarity": region_similarity,
            "region": [0, 0, 10, 10],
            "verified": True,
            "matches": inliers + 10,
            "inliers": inliers,
            "inlier_ratio": 0.5,
            "spread": 0.3,
        }
        return found if sibling_of is None else {**found, "sibling_of": sibling_of}

    siblings = [candidate(f"B{rank}", 0.69 - rank / 100, 15, sibling_of="A") for rank in range(4)]
    return {
        "set": "product-match",
        "query": "queries/1.jpg",
        "truth": "B1",
        "candidates": [candidate("A", 0.6, anchor_inliers), candidate("C", 0.55, 0), *siblings],
        "siblings": {"A": [sibling["sku"] for sibling in reversed(siblings)]},
    }


def _gated_skus(row: dict, model: ScoreModel) -> list[str]:
    ((gated_row, _),) = gated([row], model)
    return [candidate["sku"] for candidate in gated_row["candidates"]]


def test_siblings_are_verified_for_an_uncertain_photo_the_closest_first_after_the_shortlist() -> None:
    uncertain = replace(default_score_model(), threshold=1.0)
    skus = _gated_skus(_with_collected_siblings(), uncertain)
    assert skus == ["A", "C", *[f"B{rank}" for rank in range(SIBLINGS_ADDED)]]


def test_no_siblings_are_added_for_a_photo_the_scores_flag_or_without_an_aligned_anchor() -> None:
    certain = replace(default_score_model(), threshold=0.0)
    assert _gated_skus(_with_collected_siblings(), certain) == ["A", "C"]
    uncertain = replace(default_score_model(), threshold=1.0)
    assert _gated_skus(_with_collected_siblings(anchor_inliers=5), uncertain) == ["A", "C"]
    assert _gated_skus({**_with_collected_siblings(), "siblings": {}}, uncertain) == ["A", "C"]


def test_siblings_added_take_their_place_in_the_relative_evidence() -> None:
    uncertain = replace(default_score_model(), threshold=1.0)
    ((row, evidences),) = gated([_with_collected_siblings()], uncertain, add_siblings=False)
    ordered, extended = with_siblings(_with_collected_siblings(), row["candidates"], evidences, uncertain)
    assert len(ordered) == len(extended) == 2 + SIBLINGS_ADDED
    by_sku = {candidate["sku"]: evidence for candidate, evidence in zip(ordered, extended, strict=True)}
    # B0 is closer to the photo by descriptor than A: the best region similarity is now its own.
    assert by_sku["B0"].region_rank == 0 and by_sku["A"].region_rank == SIBLINGS_ADDED
    assert by_sku["B0"].sibling_of == "A"


def test_a_sibling_the_gates_turned_away_is_verified_where_it_stands() -> None:
    row = _with_collected_siblings()
    far_sibling = {
        **row["candidates"][1],
        "sku": "D",
        "similarity": 0.3,
        "region_similarity": 0.3,
        "inliers": 15,
    }
    row = {**row, "candidates": [row["candidates"][0], far_sibling], "siblings": {"A": ["D"]}}
    ((_, plain),) = gated([row], replace(default_score_model(), threshold=0.0))
    assert [evidence.verified for evidence in plain] == [True, False]
    ((gated_row, evidences),) = gated([row], replace(default_score_model(), threshold=1.0))
    assert [candidate["sku"] for candidate in gated_row["candidates"]] == ["A", "D"]
    assert [evidence.verified for evidence in evidences] == [True, True]
    assert evidences[1].inliers == 15
