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
    confirmed_situations,
    decisive_copy_score,
    export_trees,
    fit_trees,
)
from bench.splits import in_calibration_split
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
