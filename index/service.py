"""Assembles the catalog and matcher for a process from its settings."""

from __future__ import annotations

import threading
from pathlib import Path

from hallmark.db import open_database
from hallmark.settings import Settings, get_settings
from index.catalog import Catalog
from index.matcher import Matcher
from models.runtime import Embedder

_embedders: dict[tuple[Path, int, int], Embedder] = {}
_embedders_lock = threading.Lock()


def _embedder_for(settings: Settings) -> Embedder:
    # One model session per process and configuration: a session holds tens of MB and a thread pool.
    key = (settings.resolved_model_cache, settings.inference_threads, settings.check_batch_size)
    with _embedders_lock:
        if key not in _embedders:
            _embedders[key] = Embedder(settings)
        return _embedders[key]


def open_catalog(settings: Settings | None = None) -> Catalog:
    """The catalog of the configured data directory and database (migrated on first use)."""
    settings = settings or get_settings()
    return Catalog(open_database(settings), settings, _embedder_for(settings))


def open_matcher(settings: Settings | None = None, catalog: Catalog | None = None) -> Matcher:
    """A matcher over ``catalog`` (default: the configured one) at the configured threshold."""
    settings = settings or get_settings()
    return Matcher(catalog or open_catalog(settings), threshold=settings.threshold)
