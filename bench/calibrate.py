"""Fits ``index/calibration.json`` on the calibration half of the development sets.

Usage: ``python -m bench.calibrate --data ../shared/data [--evidence bench/out/evidence.json]``.

It checks every query and distractor of both sets with verification forced on the top candidates,
keeps the evidence (reusable with ``--reuse``), and then, from the calibration half only (see
:mod:`bench.splits`):

- fits the score trees of :mod:`index.scoring` (gradient boosting on the log-loss, so the output is
  a probability; monotonic constraints), with the verification gates applied as at run time;
- sets the verification gates from where true pairs lie;
- sets the copy rule between reused photos (copy-detection) and product photos (product-match);
- sets the operating threshold as the lowest probability with flag precision >= 0.97 and at most
  0.5 % of no-match queries and distractors flagged, on out-of-fold scores: trees score the photos
  they were fitted on too well, and a threshold chosen on those would flag too much elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.run import REPO, Situation, copy_detection, distractor_queries, product_match
from bench.splits import in_calibration_split
from hallmark.settings import Settings
from index.checking import check_paths
from index.matcher import Matcher
from index.scoring import (
    MONOTONIC,
    BoostedTrees,
    Evidence,
    ScoreModel,
    feature_vector,
    set_relative_evidence,
)
from index.service import open_catalog

#: Verification during collection: every one of the top candidates, so gates can be chosen after;
#: also the deepest the matcher goes for photos whose usual candidates all match weakly.
COLLECT_LIMIT = 16
#: Candidates the benchmark asks for per photo (``top_k`` of :func:`bench.run._run_checks`).
TOP_K = 5
PRECISION_TARGET = 0.97
FALSE_FLAG_TARGET = 0.005
#: The boosting: shallow trees (interactions of up to three inputs), a slow learning rate, and
#: enough rounds for it; the out-of-fold threshold uses this many folds, split by query.
TREE_DEPTH = 3
TREE_ROUNDS = 200
LEARNING_RATE = 0.05
FOLDS = 5


def collect(
    situation: Situation, distractors: list[tuple[str, Path]], model_cache: Path
) -> list[dict[str, Any]]:
    """Every query's and distractor's candidates with their full evidence."""
    collecting = ScoreModel(
        trees=BoostedTrees.constant(),
        threshold=1.0,
        copy_agreement=1.0,
        copy_min_inliers=0,
        verify_similarity=-1.0,
        verify_margin=2.0,
        verify_limit=COLLECT_LIMIT,
    )
    with tempfile.TemporaryDirectory(prefix=f"calibrate-{situation.name}-") as home:
        settings = Settings(home=Path(home), model_cache=model_cache)
        catalog = open_catalog(settings)
        catalog.import_csv(situation.catalog_csv)
        matcher = Matcher(catalog, collecting)
        rows = []
        for outcome in check_paths(matcher, situation.queries + distractors, COLLECT_LIMIT, 32):
            if outcome.result is None:
                continue
            rows.append(
                {
                    "set": situation.name,
                    "query": outcome.name,
                    "truth": situation.truth.get(outcome.name),
                    "candidates": [
                        {"sku": match.sku, **{k: v for k, v in match.evidence.items() if k != "keypoints"}}
                        for match in outcome.result.matches
                    ],
                }
            )
    return rows


def _evidence(candidate: dict[str, Any], verified: bool) -> Evidence:
    fields = {name: candidate[name] for name in Evidence.__dataclass_fields__ if name in candidate}
    evidence = Evidence(**fields)
    if not verified:  # what the matcher would know had it not verified this candidate
        evidence = Evidence(evidence.similarity, evidence.region_similarity, evidence.region)
    return evidence


def gated(rows: list[dict[str, Any]], model: ScoreModel) -> list[tuple[dict[str, Any], list[Evidence]]]:
    """Each query's candidates as the matcher would see them under ``model``'s verification gates.

    As in :class:`index.matcher.Matcher`: the best products by region similarity, those past the
    gates left unverified, none verified after a confirmed copy, the next ones up to
    ``verify_limit_weak`` verified (and kept) only when the usual ones all match weakly, and the
    inlier margins taken over the kept list. Returns the candidates best region similarity first.
    """
    out: list[tuple[dict[str, Any], list[Evidence]]] = []
    for row in rows:
        ordered = sorted(row["candidates"], key=lambda candidate: -candidate["region_similarity"])
        ordered = ordered[: model.shortlist_size(TOP_K)]
        if not ordered:
            out.append(({**row, "candidates": []}, []))
            continue
        gate = max(model.verify_similarity, ordered[0]["region_similarity"] - model.verify_margin)
        evidences = [_evidence(candidate, False) for candidate in ordered]
        usual = max(TOP_K, model.verify_limit)
        strongest = _verify_range(ordered, evidences, model.verify_limit, gate, model)
        extended = (
            strongest is not None
            and strongest < model.weak_inliers
            and model.verify_limit_weak > model.verify_limit
        )
        if extended:
            _verify_range(ordered, evidences, model.verify_limit_weak, gate, model)
        if not extended:
            ordered, evidences = ordered[:usual], evidences[:usual]
        set_relative_evidence(evidences)
        out.append(({**row, "candidates": ordered}, evidences))
    return out


def _verify_range(
    ordered: list[dict[str, Any]], evidences: list[Evidence], limit: int, gate: float, model: ScoreModel
) -> int | None:
    """Marks the first ``limit`` candidates past the gate verified; the most inliers, None at a copy."""
    strongest = 0
    for position, candidate in enumerate(ordered[:limit]):
        if not evidences[position].verified and candidate["region_similarity"] >= gate:
            evidences[position] = _evidence(candidate, True)
            if model.is_copy(evidences[position]):
                return None
        strongest = max(strongest, evidences[position].inliers)
    return strongest


def weak_inliers(rows: list[dict[str, Any]], model: ScoreModel) -> int:
    """Fewest inliers at which a photo's best verified candidate is right often enough to stop.

    Below it (on the calibration half, the best candidate right less than ``PRECISION_TARGET`` of
    the time) the matcher verifies further candidates.
    """
    best: list[tuple[int, bool]] = []
    for row, evidences in gated([row for row in rows if row["truth"]], model):
        verified = [
            (evidence.inliers, candidate["sku"] == row["truth"])
            for candidate, evidence in zip(row["candidates"], evidences, strict=True)
            if evidence.verified
        ]
        if verified:
            best.append(max(verified))
    for count in range(1, 201):
        kept = [right for inliers, right in best if inliers >= count]
        if kept and sum(kept) / len(kept) >= PRECISION_TARGET:
            return count
    return 200


def _boosting() -> Any:
    # scikit-learn is a development dependency: only fitting needs it, the shipped trees do not.
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_depth=TREE_DEPTH,
        max_iter=TREE_ROUNDS,
        learning_rate=LEARNING_RATE,
        l2_regularization=1.0,
        early_stopping=False,
        monotonic_cst=list(MONOTONIC),
        random_state=0,
    )


def export_trees(fitted: Any) -> BoostedTrees:
    """The trees of a fitted binary ``HistGradientBoostingClassifier`` as :class:`BoostedTrees`."""
    trees = []
    for (predictor,) in fitted._predictors:
        trees.append(
            [
                [-1, 0.0, -1, -1, float(node["value"])]
                if node["is_leaf"]
                else [
                    int(node["feature_idx"]),
                    float(node["num_threshold"]),
                    int(node["left"]),
                    int(node["right"]),
                    0.0,
                ]
                for node in predictor.nodes
            ]
        )
    baseline = float(np.asarray(fitted._baseline_prediction).ravel()[0])
    return BoostedTrees.from_json({"baseline": baseline, "trees": trees})


def fit_trees(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray
) -> tuple[BoostedTrees, np.ndarray]:
    """Fits the score trees; returns them and out-of-fold probabilities for every row.

    Args:
        features: ``(rows, len(FEATURES))`` inputs, one row per candidate.
        labels: 1 for a true pair, else 0.
        groups: The query of each row: a query's candidates stay in one fold.
    """
    from sklearn.model_selection import GroupKFold

    out_of_fold = np.zeros(len(labels))
    for fitting, held in GroupKFold(FOLDS).split(features, labels, groups):
        fold = _boosting().fit(features[fitting], labels[fitting])
        out_of_fold[held] = fold.predict_proba(features[held])[:, 1]
    return export_trees(_boosting().fit(features, labels)), out_of_fold


def choose_threshold(scored: list[tuple[dict[str, Any], float, str | None]]) -> float:
    """Lowest threshold meeting the precision and false-flag targets on the given queries."""
    negatives = sum(row["truth"] is None for row, _, _ in scored)
    for threshold in np.round(np.arange(0.05, 0.99, 0.01), 2):
        flagged = [(row, best) for row, score, best in scored if score >= threshold]
        correct = sum(row["truth"] is not None and row["truth"] == best for row, best in flagged)
        false = sum(row["truth"] is None for row, _ in flagged)
        precision = correct / len(flagged) if flagged else 1.0
        if precision >= PRECISION_TARGET and false <= FALSE_FLAG_TARGET * negatives:
            return float(threshold)
    return 0.99


def fit(rows: list[dict[str, Any]], base: ScoreModel) -> ScoreModel:
    """All parameters of :class:`ScoreModel` from the calibration half of ``rows``."""
    train = [row for row in rows if in_calibration_split(row["query"])]
    true_similarities = np.array(
        [c["region_similarity"] for row in train for c in row["candidates"] if c["sku"] == row["truth"]]
    )
    gaps = np.array(
        [
            max(c["region_similarity"] for c in row["candidates"]) - c["region_similarity"]
            for row in train
            for c in row["candidates"]
            if c["sku"] == row["truth"]
        ]
    )
    model = replace(
        base,
        verify_similarity=round(float(np.percentile(true_similarities, 0.5)) - 0.02, 3),
        verify_margin=round(float(np.percentile(gaps, 99)) + 0.02, 3),
    )
    copies = [
        c["agreement"]
        for row in train
        if row["set"] == "copy-detection"
        for c in row["candidates"]
        if c["sku"] == row["truth"] and c["verified"]
    ]
    products = [
        c["agreement"]
        for row in train
        if row["set"] == "product-match"
        for c in row["candidates"]
        if c["sku"] == row["truth"] and c["verified"]
    ]
    # Midway between the products' 99th and the copies' 5th percentile of agreement.
    model = replace(
        model,
        copy_agreement=round(float((np.percentile(products, 99) + np.percentile(copies, 5)) / 2), 3),
    )
    # Measured on the usual candidates alone (no extension), so a refit does not depend on the
    # previous calibration's extension.
    usual_only = replace(model, verify_limit_weak=0)
    model = replace(model, weak_inliers=weak_inliers(train, usual_only), verify_limit_weak=COLLECT_LIMIT)
    features, labels, groups = [], [], []
    for row, evidences in gated(train, model):
        for candidate, evidence in zip(row["candidates"], evidences, strict=True):
            features.append(feature_vector(evidence, model.copy_agreement))
            labels.append(float(candidate["sku"] == row["truth"]))
            groups.append(f"{row['set']}/{row['query']}")
    trees, out_of_fold = fit_trees(np.array(features), np.array(labels), np.array(groups))
    model = replace(model, trees=trees)
    return replace(model, threshold=choose_threshold(score_rows(train, model, out_of_fold)))


def score_rows(
    rows: list[dict[str, Any]], model: ScoreModel, probabilities: np.ndarray | None = None
) -> list[tuple[dict[str, Any], float, str | None]]:
    """Each query's best score and best candidate under ``model``.

    Args:
        rows: Collected evidence.
        model: The gates and, unless ``probabilities`` is given, the scores.
        probabilities: One score per candidate in the order :func:`gated` yields them (out-of-fold
            scores, for the threshold).
    """
    scored = []
    position = 0
    for row, evidences in gated(rows, model):
        if probabilities is None:
            scores = model.probabilities(evidences)
        else:
            scores = probabilities[position : position + len(evidences)]
            position += len(evidences)
        best, best_sku = 0.0, None
        for candidate, probability in zip(row["candidates"], scores.tolist(), strict=True):
            if probability > best:
                best, best_sku = probability, candidate["sku"]
        scored.append((row, best, best_sku))
    return scored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--evidence", type=Path, default=REPO / "bench" / "out" / "evidence.json")
    parser.add_argument("--reuse", action="store_true", help="fit on evidence collected before")
    parser.add_argument("--out", type=Path, default=REPO / "index" / "calibration.json")
    args = parser.parse_args(argv)
    if args.reuse:
        rows = json.loads(args.evidence.read_text())
    else:
        data = args.data.resolve()
        model_cache = Settings().resolved_model_cache
        distractors = distractor_queries(data)
        rows = []
        for situation in (copy_detection(data), product_match(data)):
            rows += collect(situation, distractors, model_cache)
            print(f"collected {situation.name}", file=sys.stderr)
        args.evidence.parent.mkdir(parents=True, exist_ok=True)
        args.evidence.write_text(json.dumps(rows))
    base = ScoreModel.load(args.out) if args.out.exists() else None
    assert base is not None
    model = replace(
        fit(rows, base),
        fitted_on="calibration half (bench/splits.py) of ../shared/data copy-detection and "
        "product-match queries and distractors",
    )
    args.out.write_text(calibration_text(model))
    summary = model.to_json()
    summary["score_trees"] = f"{len(model.trees.roots)} trees, {len(model.trees.feature)} nodes"
    print(json.dumps(summary))
    return 0


def calibration_text(model: ScoreModel) -> str:
    """``calibration.json`` as written: indented, except one line per tree (diffs stay readable)."""
    payload = model.to_json()
    trees = payload["score_trees"]["trees"]
    payload["score_trees"]["trees"] = []
    text = json.dumps(payload, indent=2)
    rendered = ",\n".join("      " + json.dumps(tree, separators=(",", ":")) for tree in trees)
    return text.replace('"trees": []', '"trees": [\n' + rendered + "\n    ]") + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
