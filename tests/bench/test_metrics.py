"""The benchmark's measures, on hand-made predictions whose figures can be worked out by hand."""

from __future__ import annotations

import pytest

from bench.metrics import Prediction, flag_counts, micro_average_precision, recall_at_1, recall_misses


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
