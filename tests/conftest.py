"""Fixtures shared by every test folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path; this one holds plain helper modules.
sys.path.insert(0, str(Path(__file__).parent))

from hostile_images import write_hostile_images  # noqa: E402


@pytest.fixture(scope="session")
def hostile_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every file that Hallmark must refuse, by name (see ``tests/hostile_images.py``); read-only."""
    return write_hostile_images(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export for the whole run (``HALLMARK_MODEL_CACHE`` of the tests' processes)."""
    return tmp_path_factory.mktemp("model-cache")


# Both databases for the case-queue, API and worker tests: each test using ``database_url`` (or
# ``db_settings`` / ``database``) runs on a SQLite file and again on a throwaway PostgreSQL cluster.
from db_fixtures import database, database_url, db_settings, postgres_server, postgres_url  # noqa: E402,F401
