"""Recurring crawl jobs, kept in the ``crawl_schedules`` table so that they survive restarts.

A due schedule is *claimed* before it runs: one UPDATE moves its ``next_run_at`` forward only if it
still holds the value this process read, and the run's ``CrawlRun`` row is written in the same
transaction. Two schedulers (or two processes of one) can therefore never start the same due run
twice, on SQLite or PostgreSQL; and a schedule whose previous run is still going is not started again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crawlers.job import CrawlJob
from crawlers.jobs import FAILED, RUNNING
from hallmark.db import CrawlRun, CrawlSchedule, Database, utcnow
from hallmark.errors import ConflictError, InvalidRequestError, NotFoundError

#: Longest repeat interval: a year.
MAX_INTERVAL_MINUTES = 366 * 24 * 60


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as the CLI shows it."""

    name: str
    job: CrawlJob
    every_minutes: int
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None

    @classmethod
    def of(cls, row: CrawlSchedule) -> ScheduleInfo:
        return cls(
            row.name,
            CrawlJob(row.adapter, row.base_url, row.query, row.max_pages),
            row.interval_minutes,
            row.enabled,
            row.next_run_at,
            row.last_run_at,
        )


@dataclass(frozen=True)
class ClaimedRun:
    """A due schedule this process claimed: the job, and the run row it records into."""

    schedule_id: int
    name: str
    job: CrawlJob
    run_id: int


def add_schedule(session: Session, name: str, job: CrawlJob, every_minutes: int) -> ScheduleInfo:
    """Adds a recurring job, due at once.

    Raises:
        InvalidRequestError: an empty name, a bad interval, or an invalid job.
        NotFoundError: no adapter has the job's name.
        ConflictError: a schedule has this name already.
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequestError("a schedule needs a name of 1 to 200 characters")
    if not 1 <= every_minutes <= MAX_INTERVAL_MINUTES:
        raise InvalidRequestError(f"--every must be between 1 and {MAX_INTERVAL_MINUTES} minutes")
    job = job.validated()
    if session.scalar(select(CrawlSchedule.id).where(CrawlSchedule.name == name)) is not None:
        raise ConflictError(f"a schedule named {name!r} exists already; remove it first")
    now = utcnow()
    row = CrawlSchedule(
        name=name,
        adapter=job.adapter,
        base_url=job.base_url,
        query=job.query,
        max_pages=job.max_pages,
        interval_minutes=every_minutes,
        enabled=True,
        next_run_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return ScheduleInfo.of(row)


def list_schedules(session: Session) -> list[ScheduleInfo]:
    """Every schedule, by name."""
    return [
        ScheduleInfo.of(row) for row in session.scalars(select(CrawlSchedule).order_by(CrawlSchedule.name))
    ]


def remove_schedule(session: Session, name: str) -> None:
    """Removes a schedule (its past runs stay in the history).

    Raises:
        NotFoundError: no schedule has this name.
    """
    row = session.scalar(select(CrawlSchedule).where(CrawlSchedule.name == name))
    if row is None:
        raise NotFoundError(f"no schedule named {name!r}")
    session.delete(row)


def _abandon_stale_runs(session: Session, schedule_id: int, stale_before: datetime) -> None:
    # A run still "running" long past the crawl time cap belongs to a process that died.
    session.execute(
        update(CrawlRun)
        .where(
            CrawlRun.schedule_id == schedule_id,
            CrawlRun.status == RUNNING,
            CrawlRun.started_at < stale_before,
        )
        .values(
            status=FAILED, error="abandoned: its process stopped before it finished", finished_at=utcnow()
        )
    )


def claim_due(database: Database, max_run_seconds: float, now: datetime | None = None) -> list[ClaimedRun]:
    """Claims every due schedule whose previous run has ended; returns the runs to start.

    Args:
        database: where the schedules are.
        max_run_seconds: a run older than this that still says ``running`` is taken for dead.
        now: the current time (tests).
    """
    now = now or utcnow()
    with database.session() as session:
        due = [
            (row.id, row.next_run_at)
            for row in session.scalars(
                select(CrawlSchedule).where(CrawlSchedule.enabled.is_(True), CrawlSchedule.next_run_at <= now)
            )
        ]
    claimed: list[ClaimedRun] = []
    for schedule_id, seen_next in due:
        try:
            run = _claim_one(database, schedule_id, seen_next, now, max_run_seconds)
        except OperationalError:
            # SQLite refuses a write whose snapshot another scheduler's write made stale: it lost.
            run = None
        if run is not None:
            claimed.append(run)
    return claimed


class _Busy(Exception):
    """The schedule's previous run is still going: undo the claim."""


def _claim_one(
    database: Database, schedule_id: int, seen_next: datetime | None, now: datetime, max_run_seconds: float
) -> ClaimedRun | None:
    try:
        with database.session() as session:
            # The write comes first, so that the transaction holds the write lock (SQLite) or the
            # row lock (PostgreSQL) before it reads anything.
            claimed = session.execute(
                update(CrawlSchedule)
                .where(CrawlSchedule.id == schedule_id, CrawlSchedule.next_run_at == seen_next)
                .values(last_run_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None  # another scheduler claimed it first
            row = session.get(CrawlSchedule, schedule_id)
            assert row is not None
            _abandon_stale_runs(session, schedule_id, now - timedelta(seconds=max_run_seconds))
            running = session.scalar(
                select(CrawlRun.id).where(CrawlRun.schedule_id == schedule_id, CrawlRun.status == RUNNING)
            )
            if running is not None:
                raise _Busy
            row.next_run_at = now + timedelta(minutes=row.interval_minutes)
            job = CrawlJob(row.adapter, row.base_url, row.query, row.max_pages)
            run = CrawlRun(
                adapter=job.adapter,
                base_url=job.base_url,
                query=job.query,
                schedule_id=schedule_id,
                status=RUNNING,
                started_at=now,
                stats={},
            )
            session.add(run)
            session.flush()
            return ClaimedRun(schedule_id, row.name, job, run.id)
    except _Busy:
        return None
