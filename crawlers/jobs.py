"""Running crawl jobs: a ``CrawlRun`` row, a child process per crawl, and its results afterwards.

Scrapy's reactor starts once per process, so each crawl runs in ``python -m crawlers.run``; this
process records the run, waits for the child, and then (for ``hallmark crawl run``) works the match
items the crawl queued, so one command crawls, matches and opens cases.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from crawlers.job import CrawlJob
from crawlers.stats import COUNTERS
from hallmark.db import Case, CrawlRun, Database, ImageMatch, WorkItem, utcnow
from hallmark.errors import WorkerBusyError
from hallmark.settings import Settings
from hallmark.work_queue import (
    CLAIMED,
    KIND_MATCH_LISTING_IMAGE,
    PENDING,
    HandlerRegistry,
    default_worker_id,
    run_one,
    sqlite_worker_lock,
)

log = logging.getLogger(__name__)

RUNNING, FINISHED, FAILED = "running", "finished", "failed"
#: Seconds the child gets after the crawl's own time cap before it is killed.
CHILD_GRACE_SECONDS = 120


@dataclass(frozen=True)
class RunSummary:
    """A finished run as the CLI prints it."""

    id: int
    adapter: str
    base_url: str | None
    query: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    stats: dict[str, Any]
    error: str | None
    schedule_id: int | None

    @classmethod
    def of(cls, run: CrawlRun) -> RunSummary:
        return cls(
            run.id,
            run.adapter,
            run.base_url,
            run.query,
            run.status,
            run.started_at,
            run.finished_at,
            dict(run.stats or {}),
            run.error,
            run.schedule_id,
        )


def settings_environment(settings: Settings) -> dict[str, str]:
    """``HALLMARK_*`` variables that give a child process exactly these settings."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        key = f"HALLMARK_{name.upper()}"
        env[key] = (
            json.dumps(value)
            if isinstance(value, list | dict)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
    # Relative paths would resolve against the child's working directory; pin them.
    env["HALLMARK_HOME"] = str(settings.resolved_home)
    env["HALLMARK_MODEL_CACHE"] = str(settings.resolved_model_cache)
    return env


def start_run(database: Database, job: CrawlJob, schedule_id: int | None = None) -> int:
    """Records a new run of ``job`` as running; returns its id."""
    with database.session() as session:
        run = CrawlRun(
            adapter=job.adapter,
            base_url=job.base_url,
            query=job.query,
            schedule_id=schedule_id,
            status=RUNNING,
            started_at=utcnow(),
            stats={},
        )
        session.add(run)
        session.flush()
        return run.id


def log_path(settings: Settings, run_id: int) -> Path:
    """Where the crawl's own log (Scrapy's) is written."""
    return settings.resolved_home / "logs" / f"crawl-{run_id}.log"


def run_crawl(
    database: Database,
    settings: Settings,
    job: CrawlJob,
    *,
    schedule_id: int | None = None,
    run_id: int | None = None,
    on_start: Callable[[subprocess.Popen[bytes]], Callable[[], None]] | None = None,
) -> RunSummary:
    """Crawls ``job`` in a child process and returns the recorded run.

    A crawl whose pages fail still finishes (the failures are in its stats); the run is ``failed``
    only when the crawl itself could not run (the child died, or ran past its time cap).

    Args:
        database: where the run is recorded.
        settings: passed to the child process as ``HALLMARK_*`` variables.
        job: what to crawl.
        schedule_id: the schedule the run belongs to.
        run_id: a run row already written (by a schedule claim); a new one otherwise.
        on_start: told about the child process once it runs; returns what to call when it has ended.
    """
    run_id = run_id or start_run(database, job, schedule_id)
    command = [sys.executable, "-m", "crawlers.run", "--adapter", job.adapter, "--run-id", str(run_id)]
    if job.base_url:
        command += ["--base-url", job.base_url]
    if job.query:
        command += ["--query", job.query]
    if job.max_pages:
        command += ["--max-pages", str(job.max_pages)]
    logfile = log_path(settings, run_id)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    error: str | None = None
    started = time.monotonic()
    with logfile.open("wb") as log_stream:
        child = subprocess.Popen(
            command,
            env={**os.environ, **settings_environment(settings)},
            stdout=log_stream,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        forget = on_start(child) if on_start is not None else None
        try:
            returncode = child.wait(timeout=settings.crawl_max_seconds + CHILD_GRACE_SECONDS)
            if returncode != 0:
                error = f"the crawl process exited with status {returncode}; see {logfile}"
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            error = f"the crawl ran past {settings.crawl_max_seconds:g} s and was stopped; see {logfile}"
        except BaseException:
            # Ctrl-C in the parent: the child got it too (same process group); let it record its run.
            child.wait()
            raise
        finally:
            if forget is not None:
                forget()
    with database.session() as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        stats = dict(run.stats or {})
        if error is None and not stats:
            error = f"the crawl recorded no statistics; see {logfile}"
        if error is not None:
            stats.setdefault("duration_seconds", round(time.monotonic() - started, 2))
            run.stats = stats
        run.status = FAILED if error else FINISHED
        run.error = error
        run.finished_at = utcnow()
        return RunSummary.of(run)


def run_items(database: Database, run_id: int) -> list[WorkItem]:
    """The match items crawl run ``run_id`` queued."""
    with database.session() as session:
        items = session.scalars(select(WorkItem).where(WorkItem.kind == KIND_MATCH_LISTING_IMAGE)).all()
        return [item for item in items if (item.payload or {}).get("crawl_run_id") == run_id]


def drain_run_items(
    database: Database,
    settings: Settings,
    run_id: int,
    handlers: HandlerRegistry,
    *,
    progress: Callable[[int, int], None] | None = None,
    timeout: float | None = None,
) -> None:
    """Works the queue until every item run ``run_id`` queued is done or failed.

    This process works items itself; on SQLite, where one worker runs at a time, it waits for a
    running ``hallmark worker`` to finish them instead.

    Args:
        progress: called with (finished, total) after each item.
        timeout: give up waiting after this many seconds (the items stay queued for workers).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    worker_id = default_worker_id()
    while True:
        items = run_items(database, run_id)
        open_items = [item for item in items if item.status in (PENDING, CLAIMED)]
        if progress is not None:
            progress(len(items) - len(open_items), len(items))
        if not open_items or (deadline is not None and time.monotonic() > deadline):
            return
        try:
            if database.is_sqlite:
                with sqlite_worker_lock(settings.resolved_home, wait=False):
                    handled = run_one(database, settings, handlers, worker_id)
            else:
                handled = run_one(database, settings, handlers, worker_id)
        except WorkerBusyError:
            handled = None
        if handled is None:
            # Another worker holds the item (or the lock), or a failed item waits for its retry.
            time.sleep(settings.worker_poll_seconds)


def record_match_stats(database: Database, run_id: int) -> RunSummary:
    """Adds what matching the run's photos gave (matches, flagged, cases opened) to its stats."""
    image_ids = {int(item.payload["listing_image_id"]) for item in run_items(database, run_id)}
    with database.session() as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        stats = dict(run.stats or {})
        matches = flagged = opened = 0
        if image_ids:
            ids = list(image_ids)
            rows = session.execute(
                select(ImageMatch.verdict, func.count())
                .where(ImageMatch.listing_image_id.in_(ids), ImageMatch.created_at >= run.started_at)
                .group_by(ImageMatch.verdict)
            ).all()
            matches = sum(count for _, count in rows)
            flagged = sum(count for verdict, count in rows if verdict != "none")
            opened = (
                session.scalar(
                    select(func.count())
                    .select_from(Case)
                    .where(Case.listing_image_id.in_(ids), Case.opened_at >= run.started_at)
                )
                or 0
            )
        failed = sum(1 for item in run_items(database, run_id) if item.status == "failed")
        stats.update(matches=matches, flagged=flagged, cases_opened=int(opened), match_failures=failed)
        for name in COUNTERS:
            stats.setdefault(name, 0)
        run.stats = stats
        return RunSummary.of(run)


def history(database: Database, limit: int = 20) -> list[RunSummary]:
    """The latest runs, newest first."""
    with database.session() as session:
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)).all()
        return [RunSummary.of(run) for run in runs]
