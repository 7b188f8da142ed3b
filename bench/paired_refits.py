"""Judges a change by paired refits: the same resamples of the calibration half, refitted on the
evidence of each code, scored on the held-out half.

Usage: ``python -m bench.paired_refits [--draws 6] BEFORE.json AFTER.json [MORE.json ...]``, where
each file is the evidence ``bench.calibrate --evidence`` collected with one version of the code.

One refit moves the held-out figures by about as much as the changes worth trying (a photo or two
either way: ``BENCHMARKS.md``, ninth session), so two single refits cannot tell a change from luck.
Here every evidence file is refitted by ``bench.calibrate``'s own rules (:func:`bench.calibrate.fit`:
gates, copy rule, trees, decisive-copy score, threshold) on the same draws of the calibration
half's queries, drawn with replacement (:func:`calibration_draw`); draw 0 is the half itself, as
``bench.calibrate`` fits it. Each fit is scored on the held-out half from the evidence
alone (:func:`held_out_figures`, which gives what ``make bench`` prints for that half). The
differences draw by draw against the first file say whether a change moves a figure in every draw
or only in some.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.calibrate import CONFIRMED_SET, TOP_K, contested, fit, gated
from bench.metrics import Prediction, flag_counts, micro_average_precision, recall_at_1
from bench.splits import in_calibration_split
from index.scoring import ScoreModel, default_score_model

#: The development sets the figures are given for, as the evidence names them.
SETS = ("copy-detection", "product-match")
#: The figures compared between evidence files, as ``(set, measure)``.
COMPARED = (
    ("copy-detection", "recall_at_1"),
    ("copy-detection", "micro_ap"),
    ("product-match", "recall_at_1"),
    ("product-match", "micro_ap"),
)


@dataclass(frozen=True)
class Figures:
    """One set's held-out figures under one score model, as ``make bench`` reports them."""

    micro_ap: float
    recall_at_1: float
    flags: int
    flag_precision: float
    flagged_negatives: int
    negatives: int


def held_out_figures(rows: Sequence[dict[str, Any]], model: ScoreModel) -> dict[str, Figures]:
    """Each set's figures on the held-out half of ``rows`` under ``model``, from the evidence alone.

    A query's candidates go through ``model``'s gates as at run time (:func:`bench.calibrate.gated`)
    and its colour contest (:func:`bench.calibrate.contested`), its best
    :data:`bench.calibrate.TOP_K` by score are its predictions, and its best is flagged when it
    reaches the model's threshold.
    """
    figures = {}
    for name in SETS:
        kept = [row for row in rows if row["set"] == name and not in_calibration_split(row["query"])]
        predictions: list[Prediction] = []
        best: dict[str, str | None] = {}
        truth: dict[str, str] = {}
        flagged: dict[str, str | None] = {}
        negatives: list[str] = []
        for row, evidences in gated(kept, model):
            scores = (
                contested(row, evidences, model.probabilities(evidences), model).tolist() if evidences else []
            )
            ranked = sorted(
                zip(scores, [candidate["sku"] for candidate in row["candidates"]], strict=True),
                reverse=True,
            )[:TOP_K]
            query = row["query"]
            if row["truth"]:
                truth[query] = row["truth"]
            else:
                negatives.append(query)
            if not query.startswith("distractors/"):
                predictions += [Prediction(query, sku, score) for score, sku in ranked]
                best[query] = ranked[0][1] if ranked else None
            if ranked and ranked[0][0] >= model.threshold:
                flagged[query] = ranked[0][1]
        counts = flag_counts(flagged, truth, negatives)
        figures[name] = Figures(
            micro_ap=round(micro_average_precision(predictions, truth, len(truth)), 4),
            recall_at_1=round(recall_at_1(best, truth), 4),
            flags=counts.flags,
            flag_precision=round(counts.precision, 4),
            flagged_negatives=counts.flagged_negatives,
            negatives=counts.negatives,
        )
    return figures


def calibration_draw(rows: Sequence[dict[str, Any]], draw: int) -> list[dict[str, Any]]:
    """The calibration half's rows for one draw: as they are for draw 0, otherwise its queries of
    each set drawn with replacement (seeded by the draw), each drawn query bringing its rows. A
    distractor, checked against each set's catalog, is drawn separately in each set."""
    calibration = [row for row in rows if in_calibration_split(row["query"])]
    if draw == 0:
        return calibration
    by_query: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in calibration:
        by_query.setdefault((row["set"], row["query"]), []).append(row)
    queries = sorted(by_query)
    generator = random.Random(draw)
    return [row for key in (generator.choice(queries) for _ in queries) for row in by_query[key]]


def refit_figures(
    rows: Sequence[dict[str, Any]], draws: int, base: ScoreModel
) -> list[tuple[ScoreModel, dict[str, Figures]]]:
    """For each draw, the model ``bench.calibrate`` fits on that draw of ``rows``' calibration half
    and its held-out figures."""
    brand_rows = [row for row in rows if not row["set"].startswith(CONFIRMED_SET)]
    fitted = []
    for draw in range(draws):
        model = fit(calibration_draw(brand_rows, draw), base)
        fitted.append((model, held_out_figures(brand_rows, model)))
    return fitted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("evidence", type=Path, nargs="+", help="evidence files; the first is the baseline")
    parser.add_argument("--draws", type=int, default=6, help="draw 0 is the calibration half as it is")
    args = parser.parse_args(argv)
    if args.draws < 1:
        print("error: --draws must be at least 1", file=sys.stderr)
        return 2
    base = default_score_model()
    results = []
    for path in args.evidence:
        try:
            rows = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            print(f"error: cannot read evidence {path}: {error}", file=sys.stderr)
            return 2
        results.append(refit_figures(rows, args.draws, base))
        for draw, (model, figures) in enumerate(results[-1]):
            shown = "  ".join(
                f"{name} µAP {figures[name].micro_ap:.4f} R@1 {figures[name].recall_at_1:.4f} "
                f"flags {figures[name].flags} precision {figures[name].flag_precision:.4f} "
                f"negatives flagged {figures[name].flagged_negatives}/{figures[name].negatives}"
                for name in SETS
            )
            print(f"{path.name} draw {draw}: threshold {model.threshold:.2f}  {shown}", flush=True)
    for path, fitted in zip(args.evidence[1:], results[1:], strict=True):
        print(f"{path.name} minus {args.evidence[0].name}, draw by draw (mean; range):")
        for name, measure in COMPARED:
            differences = [
                getattr(after[name], measure) - getattr(before[name], measure)
                for (_, before), (_, after) in zip(results[0], fitted, strict=True)
            ]
            listed = " ".join(f"{difference:+.4f}" for difference in differences)
            print(
                f"  {name} {measure}: {listed} ({statistics.fmean(differences):+.4f}; "
                f"{min(differences):+.4f} to {max(differences):+.4f})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
