"""A small real catalog on each database, for the case-queue tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from case_world import World, build_catalog

from hallmark.db import Database
from hallmark.settings import Settings


@pytest.fixture
def world(db_settings: Settings, database: Database, tmp_path: Path) -> World:
    """Four Demo Apparel products in a fresh database (SQLite, then PostgreSQL)."""
    return World(db_settings, database, build_catalog(db_settings, tmp_path / "catalog"))
