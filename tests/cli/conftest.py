"""Fixtures for CLI tests: the real console script, a fresh data directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from hallmark_cli import REPO, HallmarkRunner


@pytest.fixture
def run_hallmark(tmp_path: Path, model_cache: Path) -> HallmarkRunner:
    return HallmarkRunner(tmp_path / "home", model_cache)


@pytest.fixture
def demo_catalog_imported(run_hallmark: HallmarkRunner) -> None:
    done = run_hallmark("catalog", "import", str(REPO / "demo" / "catalog" / "catalog.csv"))
    assert done.returncode == 0, done.stderr
