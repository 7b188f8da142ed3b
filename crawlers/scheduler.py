"""``hallmark scheduler``: runs due crawl jobs from the ``crawl_schedules`` table until stopped.

APScheduler ticks every ``crawl_scheduler_poll_seconds``; each tick claims the due schedules
(:func:`crawlers.schedules.claim_due`, safe across scheduler processes) and starts each claimed run
in a thread that waits for its crawl's child process. The jobs live in the database, not in
APScheduler's memory, so they survive restarts and can be edited while schedulers run.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from apscheduler.schedulers.background import BackgroundScheduler

from crawlers.jobs import CHILD_GRACE_SECONDS, RunSummary, run_crawl
from crawlers.schedules import ClaimedRun, claim_due
from hallmark.db import Database
from hallmark.settings import Settings

log = logging.getLogger(__name__)

#: Seconds running crawls get to record what they did after a stop is asked for.
STOP_GRACE_SECONDS = 30


class CrawlScheduler:
    """Claims and runs due crawl jobs.

    Args:
        database: where schedules and runs are kept.
        settings: the process's settings (poll interval, crawl settings for the child processes).
        max_parallel: crawls this scheduler runs at once (different jobs; one job never twice).
        on_finished: called with each finished run (the CLI prints a line).
    """

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        max_parallel: int = 2,
        on_finished: Callable[[RunSummary], None] | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.on_finished = on_finished
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="crawl")
        self._children: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=settings.crawl_scheduler_poll_seconds,
            id="claim-due-crawls",
            max_instances=1,
            coalesce=True,
            next_run_time=None,
        )

    def tick(self) -> list[ClaimedRun]:
        """Claims the due schedules and starts their runs; returns what it started."""
        try:
            claimed = claim_due(self.database, self.settings.crawl_max_seconds + CHILD_GRACE_SECONDS)
        except Exception:  # a database hiccup must not stop the scheduler; the next tick retries
            log.exception("could not read the crawl schedules")
            return []
        for run in claimed:
            log.info("starting crawl %r (run %s)", run.name, run.run_id)
            self._pool.submit(self._run, run)
        return claimed

    def _run(self, claimed: ClaimedRun) -> None:
        try:
            summary = run_crawl(
                self.database,
                self.settings,
                claimed.job,
                schedule_id=claimed.schedule_id,
                run_id=claimed.run_id,
                on_start=self._started,
            )
        except Exception:
            log.exception("crawl %r (run %s) could not run", claimed.name, claimed.run_id)
            return
        if self.on_finished is not None:
            self.on_finished(summary)

    def _started(self, child: subprocess.Popen[bytes]) -> Callable[[], None]:
        with self._lock:
            self._children.add(child)

        def forget() -> None:
            with self._lock:
                self._children.discard(child)

        return forget

    def run_until(self, stop: threading.Event) -> None:
        """Ticks at once and then every poll interval until ``stop`` is set; then stops the crawls cleanly.

        Running crawls are asked to stop (SIGINT: Scrapy closes the spider and the run is recorded as
        partial) and given :data:`STOP_GRACE_SECONDS` before they are killed.
        """
        self._scheduler.start()
        self.tick()
        self._scheduler.resume_job("claim-due-crawls")
        try:
            stop.wait()
        finally:
            self._scheduler.shutdown(wait=False)
            with self._lock:
                children = list(self._children)
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)
            for child in children:
                try:
                    child.wait(timeout=STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    child.kill()
            self._pool.shutdown(wait=True)
