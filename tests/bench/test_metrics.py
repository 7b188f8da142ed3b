"""The benchmark's measures, on hand-made predictions whose figures can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import (
    Prediction,
    _drawn_micro_average_precision,
    flag_counts,
    micro_average_precision,
    micro_average_precision_interval,
    recall_at_1,
    recall_at_1_interval,
    recall_misses,
)


def test_micro_ap_ranks_every_query_s_predictions_together_by_score() -> None:
    truth = {"a": "A", "b": "B"}
    predictions = [
        Prediction("a", "A", 0.9),  # rank 1, right: precision 1/1
        Prediction("b", "X", 0.8),  # rank 2, wrong
        Prediction("b", "B", 0.7),  # rank 3, right: precision 2/3
        Prediction("c", "A", 0.6),  # a no-match query only adds a false positive
    ]

    assert micro_average_precision(predictions, truth, positives=2) == pytest.approx((1 + 2 / 3) / 2)


def test_micro_ap_counts_a_query_whose_match_was_never_predicted_as_missed_recall() -> None:
    predictions = [Prediction("a", "A", 0.9)]

    assert micro_average_precision(predictions, {"a": "A", "b": "B"}, positives=2) == pytest.approx(0.5)


def test_recall_at_1_is_the_share_of_queries_with_a_match_whose_best_candidate_is_it() -> None:
    best: dict[str, str | None] = {"a": "A", "b": "X", "c": None, "n": "A"}

    assert recall_at_1(best, {"a": "A", "b": "B", "c": "C"}) == pytest.approx(1 / 3)


def test_flag_counts_separate_right_flags_from_flagged_negatives() -> None:
    counts = flag_counts({"a": "A", "b": "X", "n": "A"}, {"a": "A", "b": "B"}, ["n", "m"])

    assert (counts.flags, counts.correct_flags, counts.negatives, counts.flagged_negatives) == (3, 1, 2, 1)


def test_recall_misses_say_whether_the_right_product_was_returned_and_what_came_first() -> None:
    brands = {"milk": "Arla", "cream": "Arla", "juice": "Bravo"}
    returned = {
        "right": ["milk", "cream"],
        "sibling first": ["cream", "milk"],
        "other brand first": ["juice", "milk"],
        "not returned": ["cream", "juice"],
        "nothing returned": [],
    }
    truth = {query: "milk" for query in returned} | {"never checked": "milk"}

    misses = recall_misses(returned, truth, brands)

    assert (misses.not_returned, misses.behind_same_brand, misses.behind_other_brand) == (3, 1, 1)


def test_a_product_without_a_brand_is_never_anyone_s_sibling() -> None:
    misses = recall_misses({"photo": ["unbranded", "milk"]}, {"photo": "milk"}, {"milk": "Arla"})

    assert (misses.behind_same_brand, misses.behind_other_brand) == (0, 1)


def test_a_resample_that_draws_every_query_once_has_the_plain_micro_ap() -> None:
    truth = {"a": "A", "b": "B"}
    predictions = [Prediction("a", "A", 0.9), Prediction("b", "X", 0.8), Prediction("b", "B", 0.7)]
    predictions += [Prediction("c", "A", 0.6)]
    right = np.array([True, False, True, False])
    owner = np.array([0, 1, 1, 2])
    has_match = np.array([1, 1, 0])

    once = _drawn_micro_average_precision(right, owner, has_match, np.array([1, 1, 1]))

    assert once == pytest.approx(micro_average_precision(predictions, truth, positives=2))


def test_a_query_drawn_twice_counts_its_predictions_and_its_positive_twice() -> None:
    right = np.array([True, False, True])  # a's right answer, then b's wrong one, then b's right one
    owner = np.array([0, 1, 1])

    twice = _drawn_micro_average_precision(right, owner, np.array([1, 1]), np.array([1, 2]))

    # Ranked: a right (1/1), b wrong, b wrong, b right (2/4), b right (3/5); three positives.
    assert twice == pytest.approx((1 + 2 / 4 + 3 / 5) / 3)


def test_recall_intervals_bracket_the_measure_and_narrow_with_more_queries() -> None:
    few = {f"q{index}": "A" for index in range(20)}
    many = {f"q{index}": "A" for index in range(500)}
    best_few: dict[str, str | None] = {query: "A" if index % 5 else "B" for index, query in enumerate(few)}
    best_many: dict[str, str | None] = {query: "A" if index % 5 else "B" for index, query in enumerate(many)}

    low_few, high_few = recall_at_1_interval(best_few, few)
    low_many, high_many = recall_at_1_interval(best_many, many)

    assert low_few <= 0.8 <= high_few and low_many <= 0.8 <= high_many
    assert high_many - low_many < (high_few - low_few) / 2


def test_intervals_of_a_perfect_result_are_a_single_point() -> None:
    truth = {"a": "A", "b": "B"}
    predictions = [Prediction("a", "A", 0.9), Prediction("b", "B", 0.8)]

    assert recall_at_1_interval({"a": "A", "b": "B"}, truth) == (1.0, 1.0)
    assert micro_average_precision_interval(predictions, truth, ["a", "b"]) == (1.0, 1.0)


def test_a_micro_ap_interval_brackets_the_measure_and_repeats_with_its_seed() -> None:
    truth = {f"q{index}": "A" for index in range(60)}
    predictions = [
        Prediction(query, "A" if index % 3 else "B", 1.0 - index / 100) for index, query in enumerate(truth)
    ]
    predictions += [Prediction(f"n{index}", "A", 0.995 - index / 50) for index in range(20)]
    queries = list(truth) + [f"n{index}" for index in range(20)]

    interval = micro_average_precision_interval(predictions, truth, queries)

    assert interval[0] <= micro_average_precision(predictions, truth, len(truth)) <= interval[1]
    assert interval[1] - interval[0] > 0.01
    assert micro_average_precision_interval(predictions, truth, queries) == interval
