"""Retrieval and flagging measures, as the data README defines them (ISC 2021 micro-AP)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Bootstrap resamples behind an interval, and the interval's coverage.
RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Prediction:
    query: str
    candidate: str
    score: float


def micro_average_precision(
    predictions: Sequence[Prediction], truth: dict[str, str], positives: int
) -> float:
    """Micro-AP over predictions of all queries ranked together by score.

    Args:
        predictions: Each query's top candidates with scores.
        truth: Query -> its true candidate, for the queries that have one.
        positives: Number of queries with a true match (the recall denominator).
    """
    if positives == 0:
        return 0.0
    ranked = sorted(predictions, key=lambda prediction: prediction.score, reverse=True)
    correct = 0
    precision_sum = 0.0
    for rank, prediction in enumerate(ranked, start=1):
        if truth.get(prediction.query) == prediction.candidate:
            correct += 1
            precision_sum += correct / rank
    return precision_sum / positives


def recall_at_1(best: dict[str, str | None], truth: dict[str, str]) -> float:
    """Share of queries with a true match whose best candidate is that match."""
    if not truth:
        return 0.0
    return sum(best.get(query) == answer for query, answer in truth.items()) / len(truth)


@dataclass(frozen=True)
class FlagCounts:
    flags: int
    correct_flags: int
    negatives: int
    flagged_negatives: int

    @property
    def precision(self) -> float:
        return self.correct_flags / self.flags if self.flags else 1.0

    @property
    def false_flag_share(self) -> float:
        return self.flagged_negatives / self.negatives if self.negatives else 0.0


def flag_counts(
    flagged_best: dict[str, str | None], truth: dict[str, str], negatives: Sequence[str]
) -> FlagCounts:
    """Counts flags (queries whose verdict is not ``none``) and how many of them are right.

    Args:
        flagged_best: Flagged query -> its best candidate.
        truth: Query -> true candidate for queries with a match.
        negatives: Queries without any true match (no-match queries and distractors).
    """
    correct = sum(truth.get(query) == best for query, best in flagged_best.items())
    negative_set = set(negatives)
    flagged_negatives = sum(query in negative_set for query in flagged_best)
    return FlagCounts(len(flagged_best), correct, len(negative_set), flagged_negatives)


@dataclass(frozen=True)
class RecallMisses:
    """Why queries with a true match miss recall@1.

    Attributes:
        not_returned: The true candidate is not among the candidates returned (or none was).
        behind_same_brand: It was returned, behind another product of its brand: packages that share
            a design and differ in print or colour (or, in a catalog of one brand, any other photo).
        behind_other_brand: It was returned, behind another brand's product.
    """

    not_returned: int
    behind_same_brand: int
    behind_other_brand: int


def recall_misses(
    returned: dict[str, list[str]], truth: dict[str, str], brand_of: dict[str, str]
) -> RecallMisses:
    """Sorts the recall@1 misses by cause.

    Args:
        returned: Query -> the candidates returned for it, best first.
        truth: Query -> its true candidate, for the queries that have one.
        brand_of: Candidate -> its brand; a candidate missing here is of no brand (another's).
    """
    not_returned = same_brand = other_brand = 0
    for query, answer in truth.items():
        candidates = returned.get(query, [])
        if candidates and candidates[0] == answer:
            continue
        if answer not in candidates:
            not_returned += 1
        elif answer in brand_of and brand_of.get(candidates[0]) == brand_of[answer]:
            same_brand += 1
        else:
            other_brand += 1
    return RecallMisses(not_returned, same_brand, other_brand)


def _percentile_interval(samples: np.ndarray) -> tuple[float, float]:
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _resampled_counts(queries: int, rng: np.random.Generator) -> np.ndarray:
    """``(RESAMPLES, queries)``: how often each query is drawn in each resample (with replacement)."""
    draws = rng.integers(0, queries, size=(RESAMPLES, queries))
    counts = np.zeros((RESAMPLES, queries), dtype=np.int64)
    np.add.at(counts, (np.arange(RESAMPLES)[:, None], draws), 1)
    return counts


def recall_at_1_interval(
    best: dict[str, str | None], truth: dict[str, str], seed: int = 0
) -> tuple[float, float]:
    """A bootstrap interval for :func:`recall_at_1`: the queries with a match resampled.

    The development sets are small (143 held-out copies, 485 held-out product photos), so one photo
    moves recall@1 by 0.7 or 0.2 points; the interval says which differences a change can claim.
    """
    if not truth:
        return 0.0, 0.0
    hits = np.array([best.get(query) == answer for query, answer in truth.items()], dtype=np.float64)
    counts = _resampled_counts(len(hits), np.random.default_rng(seed))
    return _percentile_interval(counts @ hits / len(hits))


def micro_average_precision_interval(
    predictions: Sequence[Prediction], truth: dict[str, str], queries: Sequence[str], seed: int = 0
) -> tuple[float, float]:
    """A bootstrap interval for :func:`micro_average_precision`: queries resampled with their predictions.

    A query drawn k times contributes k copies of each of its predictions (adjacent in the ranking,
    as they tie) and, if it has a match, k positives.

    Args:
        predictions: Each query's top candidates with scores.
        truth: Query -> its true candidate, for the queries that have one.
        queries: Every query the measure is over (with or without a match), each once.
    """
    if not queries:
        return 0.0, 0.0
    position = {query: index for index, query in enumerate(queries)}
    kept = [prediction for prediction in predictions if prediction.query in position]
    ranked = sorted(kept, key=lambda prediction: prediction.score, reverse=True)
    owner = np.array([position[prediction.query] for prediction in ranked], dtype=np.int64)
    right = np.array([truth.get(p.query) == p.candidate for p in ranked], dtype=bool)
    has_match = np.array([query in truth for query in queries], dtype=np.int64)
    counts = _resampled_counts(len(queries), np.random.default_rng(seed))
    samples = [_drawn_micro_average_precision(right, owner, has_match, drawn) for drawn in counts]
    return _percentile_interval(np.array(samples))


def _drawn_micro_average_precision(
    right: np.ndarray, owner: np.ndarray, has_match: np.ndarray, drawn: np.ndarray
) -> float:
    """Micro-AP of one resample.

    Args:
        right: Whether each prediction, ranked by score, is a true pair.
        owner: The query (an index into ``has_match``) each ranked prediction belongs to.
        has_match: 1 for each query with a true match, else 0.
        drawn: How often each query was drawn.
    """
    positives = int(drawn @ has_match)
    if positives == 0:
        return 0.0
    expanded = np.repeat(right, drawn[owner])
    correct = np.cumsum(expanded)
    ranks = np.arange(1, len(expanded) + 1)
    return float(np.sum((correct / ranks)[expanded])) / positives
