"""``hallmark worker``: work the queue (listing photos to match, takedowns to re-check)."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import nullcontext
from typing import Annotated

import typer

from cli.output import user_errors
from hallmark.cases import FlaggedMatch
from hallmark.db import open_database
from hallmark.listing_matching import ImageChecker, MatchOutcome, match_handler
from hallmark.settings import Settings, get_settings
from hallmark.takedowns import recheck_by_http_status
from hallmark.work_queue import (
    KIND_MATCH_LISTING_IMAGE,
    KIND_RECHECK_TAKEDOWN,
    HandlerRegistry,
    default_worker_id,
    registry,
    run_worker,
    sqlite_worker_lock,
)
from index.matcher import result_to_json
from index.service import open_matcher
from models.runtime import INPUT_SIZE
from vision.decode import decode_image


def index_checker(settings: Settings) -> ImageChecker:
    """The matcher as an :data:`ImageChecker`: safe decode, match, and the products above the threshold."""
    matcher = open_matcher(settings)

    def check(data: bytes, name: str) -> MatchOutcome:
        image = decode_image(
            data,
            min_side=INPUT_SIZE,
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
        )
        result = matcher.check([image], top_k=settings.top_k)[0]
        stamp = matcher.catalog.load_index().stamp
        flagged = [
            FlaggedMatch(match.reference.reference_id, match.sku, match.score, match.kind)
            for match in result.matches
            if match.score >= matcher.threshold
        ]
        return MatchOutcome(
            result=result_to_json(name, result),
            verdict=result.verdict,
            score=result.score,
            flagged=flagged,
            catalog_version=stamp.catalog_version,
            model_fingerprint=stamp.model_fingerprint,
        )

    return check


def build_registry(
    settings: Settings, plugins: list[str], handlers: HandlerRegistry = registry
) -> HandlerRegistry:
    """Plugins first (they may replace the defaults), then the built-in kinds they left out."""
    handlers.load_plugins([*settings.worker_plugins, *plugins])
    if handlers.get(KIND_MATCH_LISTING_IMAGE) is None:
        handlers.register(KIND_MATCH_LISTING_IMAGE, match_handler(index_checker(settings)))
    if handlers.get(KIND_RECHECK_TAKEDOWN) is None:
        handlers.register(KIND_RECHECK_TAKEDOWN, recheck_by_http_status)
    return handlers


def worker(
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Stop when the queue is empty.")] = False,
    max_items: Annotated[
        int | None, typer.Option("--max-items", min=1, help="Stop after this many items.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="On SQLite, wait for another worker to finish instead of refusing.")
    ] = False,
    plugin: Annotated[
        list[str] | None,
        typer.Option("--plugin", help="Module whose register_handlers(registry) adds kinds."),
    ] = None,
    worker_id: Annotated[
        str | None, typer.Option("--id", help="Name in the queue (default host:pid:random).")
    ] = None,
) -> None:
    """Work the queue: match listing photos and open cases, re-check sent takedowns.

    On PostgreSQL run as many workers as you like; on SQLite one at a time.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        # Finish the item in hand, then stop: its lease would otherwise have to run out first.
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with user_errors():
        database = open_database(settings)
        lock = sqlite_worker_lock(settings.resolved_home, wait=wait) if database.is_sqlite else nullcontext()
        with lock:
            handlers = build_registry(settings, plugin or [])
            name = worker_id or default_worker_id()
            typer.echo(f"worker {name}: kinds {', '.join(handlers.kinds())}", err=True)
            handled = run_worker(
                database,
                settings,
                handlers,
                worker_id=name,
                stop=stop,
                until_idle=until_idle,
                max_items=max_items,
            )
    typer.echo(f"worker {name}: handled {handled} item(s)", err=True)


def register(app: typer.Typer) -> None:
    """Adds ``hallmark worker`` to the app."""
    app.command("worker")(worker)
