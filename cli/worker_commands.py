"""``hallmark worker``: work the queue (listing photos to match, takedowns to re-check)."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import nullcontext
from typing import Annotated

import typer

from cli.output import user_errors
from hallmark.db import open_database
from hallmark.listing_matching import match_handler
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
from index.listing_checker import index_checker

#: Plugin modules every worker loads (their ``register_handlers(registry)``).
DEFAULT_PLUGINS = ("crawlers.recheck",)


def build_registry(
    settings: Settings, plugins: list[str], handlers: HandlerRegistry = registry
) -> HandlerRegistry:
    """Plugins first (they may replace the defaults), then the built-in kinds they left out.

    The crawlers' page-aware takedown re-check is always loaded: a listing whose page no longer shows
    it is gone even when the marketplace answers 200.
    """
    handlers.load_plugins(list(dict.fromkeys([*DEFAULT_PLUGINS, *settings.worker_plugins, *plugins])))
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
