"""``hallmark scheduler``: run the recurring crawl jobs until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from cli.output import user_errors
from crawlers.jobs import RunSummary
from crawlers.scheduler import CrawlScheduler
from crawlers.stats import format_stats
from hallmark.db import open_database
from hallmark.settings import get_settings


def scheduler(
    parallel: Annotated[int, typer.Option("--parallel", min=1, max=16, help="Crawls run at once.")] = 2,
) -> None:
    """Run due crawl jobs (`hallmark crawl schedule add`) until Ctrl-C or SIGTERM.

    Jobs are read from the database at every poll (HALLMARK_CRAWL_SCHEDULER_POLL_SECONDS), so they
    survive restarts and may change while the scheduler runs. Several schedulers may share a database:
    a job never runs twice at once. Matching the new photos is left to `hallmark worker`.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def finished(run: RunSummary) -> None:
        typer.echo(f"run {run.id} ({run.adapter}, schedule {run.schedule_id}): {run.status}")
        for line in format_stats(run.stats):
            typer.echo(f"  {line}")

    with user_errors():
        settings = get_settings()
        runner = CrawlScheduler(
            open_database(settings), settings, max_parallel=parallel, on_finished=finished
        )
        typer.echo(
            f"scheduler: polling every {settings.crawl_scheduler_poll_seconds:g} s; Ctrl-C stops", err=True
        )
        runner.run_until(stop)
    typer.echo("scheduler: stopped", err=True)


def register(app: typer.Typer) -> None:
    """Adds ``hallmark scheduler`` to the app."""
    app.command("scheduler")(scheduler)
