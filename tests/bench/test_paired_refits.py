"""Paired refits: held-out figures from evidence, the calibration half's draws, and the comparison."""

from __future__ import annotations

import json
import random
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from bench.paired_refits import calibration_draw, held_out_figures, main
from bench.splits import in_calibration_split
from index.scoring import default_score_model


def _names(prefix: str, held_out: bool) -> Any:
    """Query names of one half, in order."""
    for number in count():
        name = f"{prefix}{number}.jpg"
        if in_calibration_split(name) != held_out:
            yield name


def _candidate(sku: str, similarity: float, inliers: int, agreement: float) -> dict[str, Any]:
    return {
        "sku": sku,
        "similarity": similarity,
        "region_similarity": similarity,
        "region": [0, 0, 10, 10],
        "verified": True,
        "matches": inliers + 3,
        "inliers": inliers,
        "inlier_ratio": inliers / (inliers + 3),
        "spread": 0.5 if inliers >= 12 else 0.05,
        "agreement": agreement,
        "agreement_low": agreement - 0.05,
    }


def _row(set_name: str, query: str, truth: str | None, candidates: list[dict[str, Any]]) -> dict[str, Any]:
    return {"set": set_name, "query": query, "truth": truth, "candidates": candidates}


def test_held_out_figures_count_only_the_held_out_half_as_make_bench_does() -> None:
    model = default_score_model()
    copy_held, copy_calibration = _names("queries/c", True), _names("queries/c", False)
    decisive = _candidate("SRC", 0.9, 200, 0.99)
    unrelated = _candidate("OTHER", 0.5, 0, 0.0)
    rows = [
        _row("copy-detection", next(copy_held), "SRC", [decisive, unrelated]),  # flagged, right
        _row("copy-detection", next(copy_held), "SRC", [unrelated]),  # its source not found
        # Ranked first and flagged, but the wrong photo: no recall, and a wrong flag.
        _row("copy-detection", next(copy_held), "SRC", [{**decisive, "sku": "OTHER"}]),
        _row("copy-detection", next(_names("distractors/d", True)), None, [unrelated]),
        # The calibration half is not counted, however it scores.
        _row("copy-detection", next(copy_calibration), "SRC", [unrelated]),
    ]

    figures = held_out_figures(rows, model)["copy-detection"]

    assert figures.recall_at_1 == pytest.approx(1 / 3, abs=1e-4)
    assert (figures.flags, figures.flag_precision) == (2, 0.5)
    assert (figures.negatives, figures.flagged_negatives) == (1, 0)
    assert 0.3 < figures.micro_ap < 0.4  # the one right copy ranks first among the predictions
    assert held_out_figures(rows, model)["product-match"].flags == 0


def test_a_draw_resamples_each_sets_calibration_queries_with_replacement() -> None:
    calibration, held_out = _names("queries/q", False), _names("queries/q", True)
    rows = [_row("product-match", next(calibration), "A", []) for _ in range(30)]
    # The same distractors are checked against each set's catalog: one row in each set.
    distractors = [name for _, name in zip(range(20), _names("distractors/d", False), strict=False)]
    rows += [
        _row(name, query, None, []) for name in ("copy-detection", "product-match") for query in distractors
    ]
    rows += [_row("product-match", next(held_out), "A", []) for _ in range(30)]

    assert calibration_draw(rows, 0) == rows[:70]
    drawn = calibration_draw(rows, 1)
    assert drawn == calibration_draw(rows, 1)  # seeded by the draw
    assert drawn != calibration_draw(rows, 2)
    assert len(drawn) == 70 and all(row in rows[:70] for row in drawn)
    keys = [(row["set"], row["query"]) for row in drawn]
    assert len(set(keys)) < 70  # with replacement: some rows twice, some not at all


def _evidence(seed: int) -> list[dict[str, Any]]:
    """Evidence of both sets shaped like ``bench.calibrate``'s: right candidates as close as wrong
    ones, with more inliers on average (copies also agreeing pixel for pixel)."""
    generator = random.Random(seed)
    rows = []
    for set_name, prefix, agreement in (
        ("copy-detection", "queries/c", 0.97),
        ("product-match", "queries/p", 0.0),
    ):
        for number in range(160):
            truth = f"SKU{number % 7}"
            right = _candidate(truth, generator.uniform(0.45, 0.75), generator.randint(0, 30), agreement)
            wrong = [
                _candidate(
                    f"SKU{(number + shift) % 7}", generator.uniform(0.45, 0.75), generator.randint(0, 14), 0.0
                )
                for shift in (1, 2, 3)
            ]
            rows.append(_row(set_name, f"{prefix}{number}.jpg", truth, [right, *wrong]))
        for number in range(80):
            candidates = [
                _candidate(f"SKU{shift}", generator.uniform(0.4, 0.7), generator.randint(0, 12), 0.0)
                for shift in range(3)
            ]
            rows.append(_row(set_name, f"distractors/{set_name}-{number}.jpg", None, candidates))
    return rows


def test_the_same_evidence_refitted_on_the_same_draws_differs_by_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(_evidence(0)))
    after.write_text(json.dumps(_evidence(0)))

    assert main(["--draws", "2", str(before), str(after)]) == 0

    printed = capsys.readouterr().out
    assert "before.json draw 1: threshold" in printed and "after.json draw 1: threshold" in printed
    comparison = printed.split("after.json minus before.json")[1].splitlines()[1:]
    assert len(comparison) == 4
    assert all(line.endswith("(+0.0000; +0.0000 to +0.0000)") for line in comparison)


def test_better_evidence_shows_in_every_draw(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weaker = _evidence(0)
    stronger = json.loads(json.dumps(weaker))
    for row in stronger:  # the right product gains inliers everywhere
        for candidate in row["candidates"]:
            if candidate["sku"] == row["truth"]:
                candidate["inliers"] += 40
                candidate["matches"] += 40
    (tmp_path / "weaker.json").write_text(json.dumps(weaker))
    (tmp_path / "stronger.json").write_text(json.dumps(stronger))

    assert main(["--draws", "2", str(tmp_path / "weaker.json"), str(tmp_path / "stronger.json")]) == 0

    lines = capsys.readouterr().out.split("stronger.json minus weaker.json")[1].splitlines()[1:]
    product_recall = next(line for line in lines if "product-match recall_at_1" in line)
    differences = [float(value) for value in product_recall.split(":")[1].split("(")[0].split()]
    assert all(difference > 0 for difference in differences)


def test_an_unreadable_evidence_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")

    assert main([str(tmp_path / "missing.json")]) == 2
    assert main([str(broken)]) == 2
    assert main(["--draws", "0", str(broken)]) == 2

    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
