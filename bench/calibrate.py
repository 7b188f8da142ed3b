"""Fits ``index/calibration.json`` and ``index/calibration-confirmed.json`` on the calibration half.

Usage: ``python -m bench.calibrate --data ../shared/data [--evidence bench/out/evidence.json]``.

It checks every query and distractor of both sets with verification forced on the top candidates,
keeps the evidence (reusable with ``--reuse``), and then, from the calibration half only (see
:mod:`bench.splits`):

- fits the score trees of :mod:`index.scoring` (gradient boosting on the log-loss, so the output is
  a probability; monotonic constraints), with the verification gates applied as at run time;
- sets the verification gates from where true pairs lie;
- sets the copy rule between reused photos (copy-detection) and product photos (product-match);
- sets the least score of a decisive copy (:meth:`index.scoring.ScoreModel.is_decisive_copy`) to a
  lower confidence bound of that rule's precision;
- sets the colour contest's margin and score ratio (:meth:`index.scoring.ScoreModel.contested_pair`)
  by the one-standard-error rule on how many more photos get their right candidate first, on
  out-of-fold scores (:func:`choose_contest`);
- sets the operating threshold as the lowest probability with flag precision >= 0.97 and at most
  0.5 % of no-match queries and distractors flagged, on out-of-fold scores: trees score the photos
  they were fitted on too well, and a threshold chosen on those would flag too much elsewhere.

That is the model for catalogs of brand photos. The model for catalogs that also hold listing photos
reviewers confirmed (``calibration-confirmed.json``) keeps its gates and copy rule and refits the
trees and threshold with more evidence: the calibration half's product photos checked against
catalogs holding confirmed photos drawn from the other of two folds of that half (see
:func:`confirmed_situations`), so no photo is ever checked against itself.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.run import (
    REPO,
    Situation,
    copy_detection,
    distractor_queries,
    product_half,
    product_match,
    product_match_with_confirmed,
)
from bench.splits import hash_half, in_calibration_split
from hallmark.settings import Settings
from index.checking import check_paths
from index.matcher import (
    SIBLINGS_ADDED,
    Matcher,
    VerificationGate,
    verification_order,
)
from index.scoring import (
    CALIBRATION_FILE,
    CONFIRMED_CALIBRATION_FILE,
    MONOTONIC,
    SIBLING_ANCHOR_MIN_INLIERS,
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
#: The cross-fitted catalogs: confirmed photos per product (None: all of the other fold's), and
#: whether only half of the products have any; so that the trees see catalogs with one, a few and
#: many confirmed photos per product, and products without any beside products with many.
CONFIRMED_CATALOGS: tuple[tuple[int | None, bool], ...] = (
    (1, False),
    (2, False),
    (None, False),
    (None, True),
)
#: One-sided confidence of the lower bound on the decisive-copy rule's precision.
DECISIVE_CONFIDENCE = 0.95
#: Name prefix of the collected sets whose catalogs hold confirmed photos.
CONFIRMED_SET = "product-match-confirmed"
#: The colour contest's margins (a*b* units) and score ratios tried (see :func:`choose_contest`).
CONTEST_MARGINS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 15.0)
CONTEST_RATIOS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7)


def confirmed_situations(data: Path, workdir: Path) -> list[Situation]:
    """product-match with confirmed shop photos in the catalog, cross-fitted on the calibration half.

    The calibration half's product photos are split in two folds; each fold's photos (and fruit) are
    checked against the packshots plus confirmed photos drawn from the other fold, in each way
    :data:`CONFIRMED_CATALOGS` lists. No photo is checked against itself, and the held-out half is
    never touched.
    """
    situations = []
    for fold in (0, 1):
        for per_product, half_of_products in CONFIRMED_CATALOGS:
            label = "all" if per_product is None else str(per_product)
            label += "-half" if half_of_products else ""
            name = f"{CONFIRMED_SET}-{fold}-{label}"
            situations.append(
                product_match_with_confirmed(
                    data,
                    workdir / f"{name}.csv",
                    confirmed=partial(_in_calibration_fold, fold=1 - fold),
                    checked=partial(_in_calibration_fold, fold=fold),
                    per_product=per_product,
                    name=name,
                    seed=fold,
                    products=product_half(fold) if half_of_products else None,
                )
            )
    return situations


def _in_calibration_fold(name: str, fold: int) -> bool:
    """Whether a photo is in the calibration half and in the given one of its two folds."""
    return in_calibration_split(name) and hash_half(name) == fold


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
        matcher = Matcher(catalog, collecting, report_contests=True, report_siblings=True)
        rows = []
        for outcome in check_paths(matcher, situation.queries + distractors, COLLECT_LIMIT, 32):
            if outcome.result is None:
                continue
            matches = outcome.result.matches
            # The sibling packages of each candidate that could bring its own (see gated).
            siblings = {
                match.sku: [sibling.sku for sibling in matcher.siblings_of(match.reference)]
                for match in matches
                if match.evidence["inliers"] >= SIBLING_ANCHOR_MIN_INLIERS
            }
            rows.append(
                {
                    "set": situation.name,
                    "query": outcome.name,
                    "truth": situation.truth.get(outcome.name),
                    "candidates": [
                        {"sku": match.sku, **{k: v for k, v in match.evidence.items() if k != "keypoints"}}
                        for match in matches
                    ],
                    "siblings": {sku: skus for sku, skus in siblings.items() if skus},
                }
            )
    return rows


def contest_gain(first: dict[str, Any], second: dict[str, Any]) -> float | None:
    """How much closer the listing's colours are to ``second`` than to ``first`` where the two
    references differ, from the contests collected (:attr:`index.scoring.Evidence.colour_contests`);
    None when they were not contested."""
    for contest in first.get("colour_contests") or ():
        if contest["rival"] == second["sku"]:
            return float(contest["distance"] - contest["rival_distance"])
    return None


def contested(
    row: dict[str, Any], evidences: list[Evidence], scores: np.ndarray, model: ScoreModel
) -> np.ndarray:
    """``scores`` of a gated row after ``model``'s colour contest, as the matcher holds it, from
    the contests collected."""
    candidates = row["candidates"]
    return model.after_contest(
        scores, evidences, lambda first, second: contest_gain(candidates[first], candidates[second])
    )


def _evidence(candidate: dict[str, Any], verified: bool) -> Evidence:
    fields = {name: candidate[name] for name in Evidence.__dataclass_fields__ if name in candidate}
    evidence = Evidence(**fields)
    if not verified:  # what the matcher would know had it not verified this candidate
        evidence = Evidence(
            evidence.similarity,
            evidence.region_similarity,
            evidence.region,
            confirmed_reference=evidence.confirmed_reference,
            confirmed_similarity=evidence.confirmed_similarity,
            confirmed_photos=evidence.confirmed_photos,
        )
    return evidence


def _confirmed_or_none(candidate: dict[str, Any]) -> float | None:
    return candidate["confirmed_similarity"] if candidate.get("confirmed_photos") else None


def searched(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A query's candidates that the search found: those collected as sibling packages of an
    aligned candidate (``sibling_of``) left out."""
    return [candidate for candidate in row["candidates"] if not candidate.get("sibling_of")]


def gated(
    rows: list[dict[str, Any]],
    model: ScoreModel,
    add_siblings: bool = True,
    deciding: ScoreModel | None = None,
) -> list[tuple[dict[str, Any], list[Evidence]]]:
    """Each query's candidates as the matcher would see them under ``model``'s verification gates.

    As in :class:`index.matcher.Matcher`: the best products in
    :func:`index.matcher.verification_order`, those past the gates left unverified, none verified
    after a confirmed copy, the next ones up to ``verify_limit_weak`` verified (and kept) only when
    the usual ones all match weakly, then the sibling packages of the best aligned candidates of a
    photo scored below the threshold (:func:`with_siblings`), and the inlier margins taken over the
    kept list. Returns the candidates in that order.

    Args:
        rows: Collected evidence.
        model: The gates.
        add_siblings: Whether sibling packages are added (the matcher adds none in a catalog
            with confirmed photos, nor before it decides whether to verify deeper).
        deciding: The scores and threshold that decide which photos have siblings added (while
            trees are fitted, the previous ones, so that the candidates do not depend on the trees
            being fitted); None for ``model``'s own.
    """
    out: list[tuple[dict[str, Any], list[Evidence]]] = []
    for row in rows:
        candidates = searched(row)
        order = verification_order(
            [candidate["region_similarity"] for candidate in candidates],
            [_confirmed_or_none(candidate) for candidate in candidates],
        )
        ordered = [candidates[position] for position in order][: model.shortlist_size(TOP_K)]
        if not ordered:
            out.append(({**row, "candidates": []}, []))
            continue
        gate = VerificationGate.of(
            model,
            [candidate["region_similarity"] for candidate in ordered],
            [
                similarity
                for candidate in ordered
                if (similarity := _confirmed_or_none(candidate)) is not None
            ],
        )
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
        if add_siblings:
            ordered, evidences = with_siblings(row, ordered, evidences, deciding or model)
        out.append(({**row, "candidates": ordered}, evidences))
    return out


def with_siblings(
    row: dict[str, Any], ordered: list[dict[str, Any]], evidences: list[Evidence], model: ScoreModel
) -> tuple[list[dict[str, Any]], list[Evidence]]:
    """A gated query's candidates with the sibling packages the matcher would add, verified.

    As :class:`index.matcher.Matcher` adds them: the siblings (collected in ``row["siblings"]``)
    of the anchors :meth:`index.scoring.ScoreModel.sibling_anchors` gives that were not verified,
    at most :data:`index.matcher.SIBLINGS_ADDED`, the closest by region similarity first: one among
    the candidates (turned away by the gates) verified where it stands, any other added. Rows
    collected without siblings (catalogs with confirmed photos, older evidence) are returned as
    they are.
    """
    relation: dict[str, list[str]] = row.get("siblings") or {}
    if not relation or not evidences:
        return ordered, evidences
    anchors = model.sibling_anchors(model.probabilities(evidences), evidences)
    if not anchors:
        return ordered, evidences
    verified = {
        candidate["sku"] for candidate, evidence in zip(ordered, evidences, strict=True) if evidence.verified
    }
    # Kept but turned away by the gates: verified where they stand.
    unverified = {
        candidate["sku"]: position
        for position, candidate in enumerate(ordered)
        if candidate["sku"] not in verified
    }
    collected = {candidate["sku"]: candidate for candidate in row["candidates"] if candidate["verified"]}
    found: dict[str, dict[str, Any]] = {}
    for position in anchors:
        for sku in relation.get(ordered[position]["sku"], ()):
            if sku not in verified and sku not in found and sku in collected:
                found[sku] = collected[sku]
    chosen = sorted(found.values(), key=lambda candidate: -candidate["region_similarity"])[:SIBLINGS_ADDED]
    if not chosen:
        return ordered, evidences
    evidences = list(evidences)
    added = []
    for candidate in chosen:
        if candidate["sku"] in unverified:
            evidences[unverified[candidate["sku"]]] = _evidence(candidate, True)
        else:
            added.append(candidate)
            evidences.append(_evidence(candidate, True))
    set_relative_evidence(evidences)
    return ordered + added, evidences


def _verify_range(
    ordered: list[dict[str, Any]],
    evidences: list[Evidence],
    limit: int,
    gate: VerificationGate,
    model: ScoreModel,
) -> int | None:
    """Marks the first ``limit`` candidates past the gate verified; the most inliers, None at a copy."""
    strongest = 0
    for position, candidate in enumerate(ordered[:limit]):
        if not evidences[position].verified and gate.admits(
            candidate["region_similarity"], _confirmed_or_none(candidate)
        ):
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
    for row, evidences in gated([row for row in rows if row["truth"]], model, add_siblings=False):
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
    """All parameters of :class:`ScoreModel` for catalogs of brand photos, from the calibration half
    of ``rows`` (its catalogs with confirmed photos left out)."""
    train = [
        row for row in rows if in_calibration_split(row["query"]) and not row["set"].startswith(CONFIRMED_SET)
    ]
    true_similarities = np.array(
        [c["region_similarity"] for row in train for c in searched(row) if c["sku"] == row["truth"]]
    )
    gaps = np.array(
        [
            max(c["region_similarity"] for c in searched(row)) - c["region_similarity"]
            for row in train
            for c in searched(row)
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
        for c in searched(row)
        if c["sku"] == row["truth"] and c["verified"]
    ]
    products = [
        c["agreement"]
        for row in train
        if row["set"] == "product-match"
        for c in searched(row)
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
    return _fit_scores(train, model, lambda row: f"{row['set']}/{row['query']}", add_siblings=True)


def fit_confirmed(rows: list[dict[str, Any]], brand_photos: ScoreModel) -> ScoreModel:
    """The score model for catalogs that also hold confirmed listing photos.

    The gates and the copy rule are those of ``brand_photos`` (the model :func:`fit` gives); the
    trees and the threshold are fitted on every catalog of the calibration half, with and without
    confirmed photos, so that they also score copies and products with no confirmed photo.
    A photo checked against several catalogs keeps all its rows in one fold. The matcher adds no
    sibling packages in such catalogs, so none are added here.
    """
    train = [row for row in rows if in_calibration_split(row["query"])]
    return _fit_scores(train, brand_photos, lambda row: str(row["query"]), add_siblings=False)


def _fit_scores(
    train: list[dict[str, Any]],
    model: ScoreModel,
    group_of: Callable[[dict[str, Any]], str],
    add_siblings: bool,
) -> ScoreModel:
    """``model`` with score trees fitted on ``train`` and the threshold chosen out of fold.

    Which photos have sibling packages added depends on the scores, and is decided by the entering
    ``model`` (the previous calibration) throughout, so every step sees the same candidates (the
    out-of-fold scores are one per candidate). The fitted model then decides a little differently
    from the one that decided; refitting until the two agree was tried, and its refits gained half
    as much product recall@1 (``BENCHMARKS.md``, fifteenth session): trees decide too confidently
    on the photos they were fitted on, so fewer of those got siblings to learn from.
    """
    deciding = model
    features, labels, groups = [], [], []
    for row, evidences in gated(train, model, add_siblings, deciding):
        for candidate, evidence in zip(row["candidates"], evidences, strict=True):
            features.append(feature_vector(evidence, model.copy_agreement))
            labels.append(float(candidate["sku"] == row["truth"]))
            groups.append(group_of(row))
    trees, out_of_fold = fit_trees(np.array(features), np.array(labels), np.array(groups))
    decisive = decisive_copy_score(train, model, add_siblings, deciding)
    model = replace(model, trees=trees, decisive_copy_score=decisive)
    model = choose_contest(train, model, out_of_fold, add_siblings, deciding)
    scored = score_rows(train, model, out_of_fold, add_siblings, deciding)
    return replace(model, threshold=choose_threshold(scored))


def choose_contest(
    rows: list[dict[str, Any]],
    model: ScoreModel,
    probabilities: np.ndarray,
    add_siblings: bool = True,
    deciding: ScoreModel | None = None,
) -> ScoreModel:
    """``model`` with the colour contest's margin and score ratio, chosen by the one-standard-error
    rule: the most cautious pair (the largest ratio, then the largest margin) whose gain is within
    one standard error of the best gain; no contest when even the best gain is within one standard
    error of nothing.

    A pair's gain is how many more queries of ``rows`` get the right candidate first with the
    contest than without: the photos it puts right minus those it puts wrong, with a standard error
    of about the square root of their sum. Only a few dozen photos have two aligned candidates
    close enough in score, so the gains of neighbouring pairs differ by chance: on the development
    sets the best pair alone sat at ratio 0.1, where the held-out half gained 2 photos, against 4-8
    at ratios 0.2-0.5 (``BENCHMARKS.md``, fourteenth session).

    Args:
        rows: Collected evidence, with the contests of every aligned pair.
        model: The gates and the decisive-copy rule.
        probabilities: Out-of-fold tree scores, one per candidate in the order :func:`gated` yields.
        add_siblings: As for :func:`gated`.
        deciding: As for :func:`gated`.
    """
    scored = []
    position = 0
    for row, evidences in gated(rows, model, add_siblings, deciding):
        trees_only = probabilities[position : position + len(evidences)]
        position += len(evidences)
        if row["truth"] and len(evidences) > 1:
            scored.append((row, evidences, model.with_decisive_copies(trees_only, evidences)))
    outcomes: dict[tuple[float, float], tuple[int, int]] = {}
    for margin in CONTEST_MARGINS:
        for ratio in CONTEST_RATIOS:
            trial = replace(model, contest_margin=margin, contest_ratio=ratio)
            put_right = put_wrong = 0
            for row, evidences, scores in scored:
                skus = [candidate["sku"] for candidate in row["candidates"]]
                before = skus[int(np.argmax(scores))] == row["truth"]
                after = skus[int(np.argmax(contested(row, evidences, scores, trial)))] == row["truth"]
                put_right += int(after and not before)
                put_wrong += int(before and not after)
            outcomes[(margin, ratio)] = (put_right, put_wrong)
    best = max(outcomes.values(), key=lambda counts: counts[0] - counts[1])
    floor = best[0] - best[1] - math.sqrt(best[0] + best[1])
    if floor <= 0:
        return replace(model, contest_margin=None, contest_ratio=0.0)
    margin, ratio = max(
        (pair for pair, (right, wrong) in outcomes.items() if right - wrong >= floor),
        key=lambda pair: (pair[1], pair[0]),
    )
    return replace(model, contest_margin=margin, contest_ratio=ratio)


def decisive_copy_score(
    rows: list[dict[str, Any]],
    model: ScoreModel,
    add_siblings: bool = True,
    deciding: ScoreModel | None = None,
) -> float:
    """The least score of a decisive copy: the Clopper-Pearson lower bound (at
    :data:`DECISIVE_CONFIDENCE`) of the share of right pairs among the candidates of ``rows`` that
    ``model`` verifies and finds decisive copies; 0 when there are none.

    With ``n`` such candidates all right, the bound is ``(1 - confidence) ** (1 / n)``: about 0.98
    for 150 copies, lower with fewer or with any wrong pair among them.
    """
    from scipy.stats import beta

    right = wrong = 0
    for row, evidences in gated(rows, model, add_siblings, deciding):
        for candidate, evidence in zip(row["candidates"], evidences, strict=True):
            if model.is_decisive_copy(evidence):
                if candidate["sku"] == row["truth"]:
                    right += 1
                else:
                    wrong += 1
    if right == 0:
        return 0.0
    return round(float(beta.ppf(1.0 - DECISIVE_CONFIDENCE, right, wrong + 1)), 4)


def score_rows(
    rows: list[dict[str, Any]],
    model: ScoreModel,
    probabilities: np.ndarray | None = None,
    add_siblings: bool = True,
    deciding: ScoreModel | None = None,
) -> list[tuple[dict[str, Any], float, str | None]]:
    """Each query's best score and best candidate under ``model``.

    Args:
        rows: Collected evidence.
        model: The gates and, unless ``probabilities`` is given, the scores.
        probabilities: One score per candidate in the order :func:`gated` yields them (out-of-fold
            scores, for the threshold).
        add_siblings: As for :func:`gated`.
        deciding: As for :func:`gated`.
    """
    scored = []
    position = 0
    for row, evidences in gated(rows, model, add_siblings, deciding):
        if probabilities is None:
            scores = model.probabilities(evidences)
        else:
            trees_only = probabilities[position : position + len(evidences)]
            scores = model.with_decisive_copies(trees_only, evidences)
            position += len(evidences)
        scores = contested(row, evidences, scores, model)
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
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    parser.add_argument("--out-confirmed", type=Path, default=CONFIRMED_CALIBRATION_FILE)
    args = parser.parse_args(argv)
    if args.reuse:
        rows = json.loads(args.evidence.read_text())
    else:
        data = args.data.resolve()
        model_cache = Settings().resolved_model_cache
        distractors = distractor_queries(data)
        rows = []
        with tempfile.TemporaryDirectory(prefix="calibrate-catalogs-") as workdir:
            situations = [copy_detection(data), product_match(data)]
            situations += confirmed_situations(data, Path(workdir))
            for situation in situations:
                negatives = distractors
                if situation.name.startswith(CONFIRMED_SET):
                    negatives = [item for item in distractors if in_calibration_split(item[0])]
                rows += collect(situation, negatives, model_cache)
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
    confirmed = replace(
        fit_confirmed(rows, model),
        fitted_on=f"{model.fitted_on}, and its product-match photos checked against catalogs holding "
        "confirmed photos of the other of two folds (1 and 2 per product, all, all for half of the products)",
    )
    for path, fitted in ((args.out, model), (args.out_confirmed, confirmed)):
        path.write_text(calibration_text(fitted))
        summary = fitted.to_json()
        summary["score_trees"] = f"{len(fitted.trees.roots)} trees, {len(fitted.trees.feature)} nodes"
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
