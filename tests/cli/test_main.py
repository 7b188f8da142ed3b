"""The ``hallmark`` entry point: a refused ``HALLMARK_*`` setting is one line and a usage exit code."""

from __future__ import annotations

from hallmark_cli import REPO, HallmarkRunner


def test_a_setting_out_of_range_is_one_line_naming_the_variable(run_hallmark: HallmarkRunner) -> None:
    run_hallmark.env["HALLMARK_VERIFY_THREADS"] = "-1"
    done = run_hallmark("check", str(REPO / "demo" / "listings" / "unrelated-clothes.jpg"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: invalid setting HALLMARK_VERIFY_THREADS=-1: Input should be greater than or equal to 0"
    ]


def test_every_refused_setting_is_named_on_the_one_line(run_hallmark: HallmarkRunner) -> None:
    run_hallmark.env.update({"HALLMARK_TOP_K": "0", "HALLMARK_INFERENCE_THREADS": "many"})
    done = run_hallmark("check", str(REPO / "demo" / "listings" / "unrelated-clothes.jpg"))
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "HALLMARK_TOP_K=0" in line and "HALLMARK_INFERENCE_THREADS=many" in line
    assert "Traceback" not in done.stderr
