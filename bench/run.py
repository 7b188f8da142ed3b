"""``make bench``: matching quality and speed on the development sets, as a table and as JSON.

Usage: ``python -m bench.run --data ../shared/data [--json-out bench/out/results.json]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics import (
    CONFIDENCE,
    Prediction,
    flag_counts,
    micro_average_precision,
    micro_average_precision_interval,
    recall_at_1,
    recall_at_1_interval,
    recall_misses,
)
from bench.splits import hash_half, in_calibration_split
from hallmark.settings import Settings
from index.checking import CheckOutcome, check_paths
from index.matcher import Matcher
from index.service import open_catalog, open_matcher
from models.spec import CATALOG_INPUT_SIZE, LISTING_INPUT_SIZE, MEAN, STD

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Situation:
    """One development set: a catalog, its queries with truth, and the shared distractors."""

    name: str
    catalog_csv: Path
    queries: list[tuple[str, Path]]
    truth: dict[str, str]
    negatives: list[str]


def product_match(data: Path) -> Situation:
    root = data / "product-match"
    rows = list(csv.DictReader((root / "truth.csv").open()))
    return Situation(
        name="product-match",
        catalog_csv=root / "references.csv",
        queries=[(row["image"], root / row["image"]) for row in rows],
        truth={row["image"]: row["sku"] for row in rows if row["sku"]},
        negatives=[row["image"] for row in rows if not row["sku"]],
    )


def copy_detection(data: Path) -> Situation:
    root = data / "copy-detection"
    rows = list(csv.DictReader((root / "truth.csv").open()))
    return Situation(
        name="copy-detection",
        catalog_csv=root / "catalog.csv",
        queries=[(row["image"], root / row["image"]) for row in rows],
        truth={row["image"]: Path(row["reference"]).stem for row in rows if row["reference"]},
        negatives=[row["image"] for row in rows if not row["reference"]],
    )


def product_match_after_review(
    data: Path, workdir: Path, per_product: int | None = None, half_of_products: bool = False
) -> Situation:
    """product-match once reviewers have confirmed the calibration half's product photos.

    A brand's catalog grows past its packshots: a listing photo a reviewer confirmed as showing the
    product becomes one more reference photo of its SKU (a catalog row with ``origin`` ``confirmed``).
    Here the product photos of the calibration half (see :mod:`bench.splits`) play those confirmed
    photos, and only the held-out half is checked: no query is ever in the catalog. The fruit and
    vegetable photos of the held-out half come from the same shops, so they measure what the shop
    backgrounds of the confirmed photos cost.

    Args:
        data: The development data folder.
        workdir: Where to write the catalog CSV (its image paths are absolute).
        per_product: Confirmed photos per product, drawn at random (seed 0) from the calibration
            half; all of them when None.
        half_of_products: Only half of the products (by a hash of the SKU) have confirmed photos,
            as when reviewers have confirmed matches of some products and not yet of others.
    """
    return product_match_with_confirmed(
        data,
        workdir / "product-match-after-review.csv",
        confirmed=in_calibration_split,
        checked=lambda name: not in_calibration_split(name),
        per_product=per_product,
        name="product-match-after-review",
        products=product_half(0) if half_of_products else None,
    )


def product_half(half: int) -> Callable[[str], bool]:
    """Whether a SKU is in the given half (0 or 1) of the products, by a hash of the SKU."""
    return lambda sku: hash_half(sku) == half


def product_match_with_confirmed(
    data: Path,
    catalog_csv: Path,
    confirmed: Callable[[str], bool],
    checked: Callable[[str], bool],
    per_product: int | None,
    name: str,
    seed: int = 0,
    products: Callable[[str], bool] | None = None,
) -> Situation:
    """product-match with some labelled product photos in the catalog as confirmed references.

    Args:
        data: The development data folder.
        catalog_csv: The catalog CSV to write (its image paths are absolute).
        confirmed: Which product photos (by name) may become confirmed references.
        checked: Which photos (products and fruit) are checked; never one that ``confirmed`` takes.
        per_product: Confirmed photos per product, drawn at random; all of them when None.
        name: The situation's name.
        seed: The draw's seed.
        products: Which products (by SKU) get confirmed photos; all when None.
    """
    plain = product_match(data)
    root = data / "product-match"
    references = list(csv.DictReader((root / "references.csv").open()))
    by_sku = {row["sku"]: row for row in references}
    rows = [{**row, "image": str((root / row["image"]).resolve())} for row in references]
    chosen: dict[str, list[str]] = {}
    for image, sku in plain.truth.items():
        if confirmed(image) and (products is None or products(sku)):
            chosen.setdefault(sku, []).append(image)
    draw = random.Random(seed)
    in_catalog: set[str] = set()
    for sku in sorted(chosen):
        images = chosen[sku]
        if per_product is not None:
            images = draw.sample(images, min(per_product, len(images)))
        in_catalog.update(images)
        rows += [
            {**by_sku[sku], "image": str((root / image).resolve()), "origin": "confirmed"} for image in images
        ]
    catalog_csv.parent.mkdir(parents=True, exist_ok=True)
    with catalog_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*references[0], "origin"], restval="catalog")
        writer.writeheader()
        writer.writerows(rows)
    kept = {query for query, _ in plain.queries if checked(query) and query not in in_catalog}
    return Situation(
        name=name,
        catalog_csv=catalog_csv,
        queries=[(query, path) for query, path in plain.queries if query in kept],
        truth={query: sku for query, sku in plain.truth.items() if query in kept},
        negatives=[query for query in plain.negatives if query in kept],
    )


def distractor_queries(data: Path) -> list[tuple[str, Path]]:
    return [(f"distractors/{path.name}", path) for path in sorted((data / "distractors").glob("*.jpg"))]


def _run_checks(
    matcher: Matcher, images: list[tuple[str, Path]], batch_size: int
) -> tuple[list[CheckOutcome], float]:
    started = time.perf_counter()
    outcomes = list(check_paths(matcher, images, top_k=5, batch_size=batch_size))
    return outcomes, time.perf_counter() - started


def evaluate(situation: Situation, distractors: list[tuple[str, Path]], model_cache: Path) -> dict[str, Any]:
    """Imports the set's catalog into a fresh data directory and checks every query and distractor."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{situation.name}-") as home:
        settings = Settings(home=Path(home), model_cache=model_cache)
        catalog = open_catalog(settings)
        report = catalog.import_csv(situation.catalog_csv)
        if report.errors:
            raise SystemExit(f"{situation.name}: catalog rows skipped: {report.errors[:3]}")
        matcher = open_matcher(settings, catalog)
        matcher.check([], top_k=5)  # load the index before timing
        images = situation.queries + distractors
        outcomes, seconds = _run_checks(matcher, images, settings.check_batch_size)

    errors = [outcome for outcome in outcomes if outcome.result is None]
    measures = _measures(outcomes, situation, [name for name, _ in distractors], lambda name: True)
    held_out = _measures(
        outcomes, situation, [name for name, _ in distractors], lambda name: not in_calibration_split(name)
    )
    return {
        **measures,
        "errors": len(errors),
        "images_checked": len(outcomes),
        "check_seconds": round(seconds, 3),
        "check_images_per_second": round(len(outcomes) / seconds, 1),
        "verified_share": round(_verified_share(outcomes), 3),
        "held_out": held_out,
    }


def _verified_share(outcomes: list[CheckOutcome]) -> float:
    """Share of checked photos whose candidates went through geometric verification."""
    results = [outcome.result for outcome in outcomes if outcome.result is not None]
    verified = sum(any(match.evidence.get("verified") for match in result.matches) for result in results)
    return verified / len(results) if results else 0.0


def _brands(catalog_csv: Path) -> dict[str, str]:
    """SKU -> brand, as the catalog CSV gives them (SKUs without a brand left out)."""
    with catalog_csv.open(newline="") as handle:
        return {row["sku"]: row["brand"] for row in csv.DictReader(handle) if row.get("brand")}


def _measures(
    outcomes: list[CheckOutcome],
    situation: Situation,
    distractor_names: list[str],
    keep: Callable[[str], bool],
) -> dict[str, Any]:
    """micro-AP, recall@1 and the flag counts over the queries and distractors that ``keep`` selects."""
    predictions = []
    best: dict[str, str | None] = {}
    returned: dict[str, list[str]] = {}
    flagged: dict[str, str | None] = {}
    for outcome in outcomes:
        result = outcome.result
        if result is None or not keep(outcome.name):
            continue
        for match in result.matches:
            predictions.append(Prediction(outcome.name, match.sku, match.score))
        returned[outcome.name] = [match.sku for match in result.matches]
        best[outcome.name] = result.matches[0].sku if result.matches else None
        if result.verdict != "none":
            flagged[outcome.name] = best[outcome.name]
    query_names = {name for name, _ in situation.queries if keep(name)}
    truth = {name: sku for name, sku in situation.truth.items() if keep(name)}
    negatives = [name for name in situation.negatives if keep(name)]
    distractor_names = [name for name in distractor_names if keep(name)]
    query_predictions = [prediction for prediction in predictions if prediction.query in query_names]
    query_flags = {name: sku for name, sku in flagged.items() if name in query_names}
    on_queries = flag_counts(query_flags, truth, negatives)
    on_distractors = flag_counts(
        {name: sku for name, sku in flagged.items() if name not in query_names}, {}, distractor_names
    )
    everything = flag_counts(flagged, truth, negatives + distractor_names)
    return {
        "queries": len(query_names),
        "with_match": len(truth),
        "distractors": len(distractor_names),
        "micro_ap": round(micro_average_precision(query_predictions, truth, len(truth)), 4),
        "micro_ap_interval": _rounded(
            micro_average_precision_interval(query_predictions, truth, sorted(query_names))
        ),
        "recall_at_1": round(recall_at_1(best, truth), 4),
        "recall_at_1_interval": _rounded(recall_at_1_interval(best, truth)),
        "recall_misses": asdict(recall_misses(returned, truth, _brands(situation.catalog_csv))),
        "flags": everything.flags,
        "flag_precision": round(everything.precision, 4),
        "false_flag_share_no_match_queries": round(on_queries.false_flag_share, 4),
        "false_flag_share_distractors": round(on_distractors.false_flag_share, 4),
        "false_flag_share": round(everything.false_flag_share, 4),
    }


def _rounded(interval: tuple[float, float]) -> list[float]:
    return [round(interval[0], 4), round(interval[1], 4)]


def model_only_rate(matcher: Matcher, batch_size: int = 32, repeats: int = 7) -> float:
    """Images per second of one backbone forward pass at the pipeline's input size (the ceiling)."""
    batch = (
        np.random.default_rng(0)
        .standard_normal((batch_size, 3, LISTING_INPUT_SIZE, LISTING_INPUT_SIZE))
        .astype(np.float32)
    )
    embedder = matcher.catalog.embedder
    embedder.embed_batch(batch)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        embedder.embed_batch(batch)
        timings.append(time.perf_counter() - started)
    return batch_size / statistics.median(timings)


def hostile_run(model_cache: Path) -> dict[str, Any]:
    """Time and peak memory of ``hallmark check`` on hostile files, beside the same on benign photos."""
    sys.path.insert(0, str(REPO / "tests"))
    from hostile_images import write_hostile_images

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as scratch:
        hostile = Path(scratch) / "hostile"
        hostile.mkdir()
        written = write_hostile_images(hostile)
        hostile_files = [str(path) for path in sorted(written.values())]
        benign = REPO / "demo" / "listings"
        home = Path(scratch) / "home"
        env = {**os.environ, "HALLMARK_HOME": str(home), "HALLMARK_MODEL_CACHE": str(model_cache)}
        hallmark = str(Path(sys.executable).with_name("hallmark"))
        subprocess.run(
            [hallmark, "catalog", "import", str(REPO / "demo" / "catalog" / "catalog.csv")],
            env=env,
            check=True,
            capture_output=True,
        )
        benign_files = [str(path) for path in sorted(benign.iterdir())]
        # Files are named one by one: a folder would skip the ones whose extension is not an image's.
        for label, files in (("benign", benign_files), ("hostile", hostile_files)):
            started = time.perf_counter()
            done = subprocess.run(
                [
                    "/usr/bin/env",
                    "python3",
                    "-c",
                    "import resource,subprocess,sys;"
                    "p=subprocess.run(sys.argv[1:],capture_output=True);"
                    "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
                    "sys.stderr.write(p.stdout.decode())",
                    hallmark,
                    "check",
                    "--json",
                    *files,
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
            code, maxrss_kib = (int(value) for value in done.stdout.split())
            lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
            results[label] = {
                "files": len(lines),
                "errors": sum("error" in line for line in lines),
                "exit_code": code,
                "seconds": round(seconds, 2),
                "peak_rss_mib": round(maxrss_kib / 1024, 1),
            }
        results["hostile_files"] = sorted(written)
    return results


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1, refused with one line otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--json-out", type=Path, default=REPO / "bench" / "out" / "results.json")
    parser.add_argument("--skip-hostile", action="store_true")
    parser.add_argument(
        "--confirmed-per-product",
        type=positive_int,
        default=None,
        help="product-match after review with this many confirmed photos per product (default: all)",
    )
    parser.add_argument(
        "--confirmed-half-of-products",
        action="store_true",
        help="product-match after review with confirmed photos of only half of the products",
    )
    args = parser.parse_args(argv)
    data = args.data.resolve()
    if not (data / "README.md").exists():
        print(f"error: no development data at {data}", file=sys.stderr)
        return 2
    model_cache = Settings().resolved_model_cache
    distractors = distractor_queries(data)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "input_size": {"listing": LISTING_INPUT_SIZE, "catalog": CATALOG_INPUT_SIZE},
        "normalisation": {"mean": MEAN, "std": STD},
    }
    # The ceiling is measured right before and after each set's checks and its median taken, so that
    # both rates see the same load on a shared machine.
    ceilings = []
    with tempfile.TemporaryDirectory() as home:
        matcher = open_matcher(Settings(home=Path(home), model_cache=model_cache))
        for situation in (copy_detection(data), product_match(data)):
            ceilings.append(model_only_rate(matcher))
            results[situation.name] = evaluate(situation, distractors, model_cache)
            ceilings.append(model_only_rate(matcher))
            print(f"{situation.name}: {json.dumps(results[situation.name])}", file=sys.stderr)
        # Not part of the speed ratio below, which stays the two sets' (comparable across sessions).
        with tempfile.TemporaryDirectory() as workdir:
            reviewed = product_match_after_review(
                data, Path(workdir), args.confirmed_per_product, args.confirmed_half_of_products
            )
            results[reviewed.name] = evaluate(reviewed, distractors, model_cache)
        print(f"{reviewed.name}: {json.dumps(results[reviewed.name])}", file=sys.stderr)
    ceiling = statistics.median(ceilings)
    checked = sum(results[name]["images_checked"] for name in ("copy-detection", "product-match"))
    seconds = sum(results[name]["check_seconds"] for name in ("copy-detection", "product-match"))
    end_to_end = checked / seconds
    results["speed"] = {
        "check_images_per_second": round(end_to_end, 1),
        "model_only_images_per_second": round(ceiling, 1),
        "model_only_measurements": [round(rate, 1) for rate in ceilings],
        "ratio": round(end_to_end / ceiling, 3),
    }
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if not args.skip_hostile:
        results["hostile"] = hostile_run(model_cache)
    _print_table(results)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results))
    return 0


def _print_table(results: dict[str, Any]) -> None:
    rows = [
        ("micro-AP", "micro_ap"),
        ("recall@1", "recall_at_1"),
        ("flag precision", "flag_precision"),
        ("false flags: no-match queries", "false_flag_share_no_match_queries"),
        ("false flags: distractors", "false_flag_share_distractors"),
        ("images/s end to end", "check_images_per_second"),
    ]
    print(f"{'measure':<32}{'copy-detection':>16}{'product-match':>16}")
    for label, key in rows:
        print(f"{label:<32}{results['copy-detection'][key]:>16}{results['product-match'][key]:>16}")
    print(
        "held-out half (never used by bench/calibrate.py; under a measure, its bootstrap "
        f"{CONFIDENCE:.0%} interval over the half's queries):"
    )
    for label, key in rows[:-1]:
        held = (results["copy-detection"]["held_out"][key], results["product-match"]["held_out"][key])
        print(f"  {label:<30}{held[0]:>16}{held[1]:>16}")
        if f"{key}_interval" in results["copy-detection"]["held_out"]:
            spans = [
                "{:.3f}-{:.3f}".format(*results[name]["held_out"][f"{key}_interval"])
                for name in ("copy-detection", "product-match")
            ]
            print(f"  {'':<30}{spans[0]:>16}{spans[1]:>16}")
    misses = results["product-match"]["held_out"]["recall_misses"]
    print(
        f"  product recall@1 misses: {sum(misses.values())} (right product not among the 5 returned "
        f"{misses['not_returned']}, behind a product of its brand {misses['behind_same_brand']}, "
        f"behind another brand's {misses['behind_other_brand']})"
    )
    reviewed = results["product-match-after-review"]
    print(
        "product-match after review (catalog: packshots + the calibration half's product photos; "
        "queries: the held-out half):"
    )
    for label, key in rows:
        print(f"  {label:<30}{reviewed[key]:>16}")
    speed = results["speed"]
    print(
        f"check {speed['check_images_per_second']} img/s vs model-only "
        f"{speed['model_only_images_per_second']} img/s (ratio {speed['ratio']}); "
        f"peak RSS {results['peak_rss_mib']} MiB"
    )
    if "hostile" in results:
        for label in ("benign", "hostile"):
            run = results["hostile"][label]
            print(
                f"{label} files: {run['files']} checked, {run['errors']} errors, exit {run['exit_code']}, "
                f"{run['seconds']} s, peak RSS {run['peak_rss_mib']} MiB"
            )


if __name__ == "__main__":
    raise SystemExit(main())
