"""``hallmark catalog``: import, stats, learn and remove, with bad rows reported by line."""

from __future__ import annotations

import json
from pathlib import Path

from hallmark_cli import REPO
from hallmark_cli import HallmarkRunner as RunHallmark

DEMO_CSV = REPO / "demo" / "catalog" / "catalog.csv"


def _stats(run_hallmark: RunHallmark) -> dict[str, int]:
    done = run_hallmark("catalog", "stats", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_import_then_stats_counts_products_references_and_vectors(run_hallmark: RunHallmark) -> None:
    done = run_hallmark("catalog", "import", str(DEMO_CSV))
    assert done.returncode == 0, done.stderr
    assert "14 photos added" in done.stdout
    assert _stats(run_hallmark) == {"products": 14, "references": 14, "indexed": 14}


def test_importing_twice_changes_nothing(run_hallmark: RunHallmark) -> None:
    run_hallmark("catalog", "import", str(DEMO_CSV))
    done = run_hallmark("catalog", "import", str(DEMO_CSV))
    assert "0 photos added, 14 unchanged" in done.stdout
    assert _stats(run_hallmark) == {"products": 14, "references": 14, "indexed": 14}


def test_bad_rows_are_reported_by_line_and_skipped(tmp_path: Path, run_hallmark: RunHallmark) -> None:
    csv = tmp_path / "catalog.csv"
    image = REPO / "demo" / "catalog" / "images" / "DA-001.jpg"
    csv.write_text(
        "sku,name,brand,image,msrp\n"
        f"A,Shirt,Acme,{image},10\n"
        "B,Shirt,Acme,missing.jpg,10\n"
        f"C,Shirt,Acme,{image},ten\n"
    )
    done = run_hallmark("catalog", "import", str(csv))
    assert done.returncode == 1
    errors = done.stderr.splitlines()
    assert len(errors) == 2
    assert "line 3" in errors[0] and "missing.jpg" in errors[0]
    assert "line 4" in errors[1] and "msrp 'ten' is not a number" in errors[1]
    assert _stats(run_hallmark) == {"products": 1, "references": 1, "indexed": 1}


def test_a_file_that_is_not_a_catalog_is_one_line_and_exit_code_1(
    tmp_path: Path, run_hallmark: RunHallmark
) -> None:
    csv = tmp_path / "wrong.csv"
    csv.write_text("id,title\n1,x\n")
    done = run_hallmark("catalog", "import", str(csv))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "missing required column" in done.stderr
    missing = run_hallmark("catalog", "import", str(tmp_path / "absent.csv"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr


def test_remove_takes_a_product_and_its_photos_out_of_the_index(run_hallmark: RunHallmark) -> None:
    run_hallmark("catalog", "import", str(DEMO_CSV))
    done = run_hallmark("catalog", "remove", "DA-001")
    assert done.returncode == 0 and "1 photo" in done.stdout
    assert _stats(run_hallmark) == {"products": 13, "references": 13, "indexed": 13}
    again = run_hallmark("catalog", "remove", "DA-001")
    assert again.returncode == 1 and again.stderr.strip() == "error: no product with sku 'DA-001'"


def test_learn_with_no_confirmed_matches_adds_nothing_and_says_so(
    run_hallmark: RunHallmark, demo_catalog_imported: None
) -> None:
    done = run_hallmark("catalog", "learn")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0 confirmed product matches: 0 photos added, 0 already there, 0 skipped"
    assert _stats(run_hallmark) == {"products": 14, "references": 14, "indexed": 14}
