"""The work queue: background items (listing photos to match, takedowns to re-check) and the workers
that claim and finish them.

On PostgreSQL any number of ``hallmark worker`` processes share the queue: an item is claimed with
``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease that the worker renews while it works; an item whose
lease runs out (its worker died) is claimed again. A handler's changes and the item's completion are
committed in one transaction that first checks the worker still holds the lease, so an item's effects
are recorded exactly once even when a slow worker loses its lease to another.

On SQLite one worker runs at a time (:func:`sqlite_worker_lock`); a second one waits or is refused.

Other packages add kinds of work with :func:`register_handler` (or a plugin module's
``register_handlers(registry)``, named in ``HALLMARK_WORKER_PLUGINS``).
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from hallmark.db import Database, WorkItem, utcnow
from hallmark.errors import ConfigurationError, HallmarkError, WorkerBusyError
from hallmark.settings import Settings

log = logging.getLogger(__name__)

#: Match one stored listing photo against the catalog; payload ``{"listing_image_id": int}``.
KIND_MATCH_LISTING_IMAGE = "match_listing_image"
#: Look again at a listing a takedown was sent for; payload ``{"case_id": int}``.
KIND_RECHECK_TAKEDOWN = "recheck_takedown"

PENDING, CLAIMED, DONE, FAILED = "pending", "claimed", "done", "failed"
#: Longest wait before a failed item is tried again.
MAX_BACKOFF_SECONDS = 600


@dataclass(frozen=True)
class ClaimedItem:
    """An item a worker holds the lease of."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class WorkContext:
    """What a handler gets: the transaction its changes go in (committed with the item's completion),
    the settings, and the item."""

    session: Session
    settings: Settings
    item: ClaimedItem
    worker_id: str


Handler = Callable[[WorkContext], None]


class PermanentWorkError(HallmarkError):
    """Raised by a handler when retrying cannot help (the item is marked failed at once)."""


class LeaseLostError(HallmarkError):
    """The worker's lease ran out and another worker claimed the item; this worker's work is dropped."""


class HandlerRegistry:
    """Kinds of work and their handlers."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def register(self, kind: str, handler: Handler, *, replace: bool = False) -> None:
        """Adds a handler for ``kind``.

        Raises:
            ConfigurationError: ``kind`` has a handler already and ``replace`` is false.
        """
        with self._lock:
            if kind in self._handlers and not replace:
                raise ConfigurationError(f"work kind {kind!r} already has a handler")
            self._handlers[kind] = handler

    def get(self, kind: str) -> Handler | None:
        return self._handlers.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    def load_plugins(self, modules: list[str]) -> None:
        """Imports each module and calls its ``register_handlers(registry)``.

        Raises:
            ConfigurationError: A module cannot be imported or has no ``register_handlers``.
        """
        for name in modules:
            try:
                module = importlib.import_module(name)
            except ImportError as error:
                raise ConfigurationError(f"worker plugin {name!r} cannot be imported: {error}") from error
            register = getattr(module, "register_handlers", None)
            if not callable(register):
                raise ConfigurationError(f"worker plugin {name!r} has no register_handlers(registry)")
            register(self)


#: The process's registry; packages register their kinds here.
registry = HandlerRegistry()


def register_handler(kind: str, *, replace: bool = False) -> Callable[[Handler], Handler]:
    """Decorator: registers a function as the handler of ``kind`` in the process's registry."""

    def decorate(handler: Handler) -> Handler:
        registry.register(kind, handler, replace=replace)
        return handler

    return decorate


def enqueue(session: Session, kind: str, payload: dict[str, Any], *, delay_seconds: float = 0.0) -> WorkItem:
    """Adds an item to the queue in the caller's transaction (so it exists only if that commits)."""
    now = utcnow()
    item = WorkItem(
        kind=kind,
        payload=payload,
        status=PENDING,
        attempts=0,
        available_at=now + timedelta(seconds=delay_seconds),
        created_at=now,
    )
    session.add(item)
    session.flush()
    return item


def default_worker_id() -> str:
    """A name that tells workers apart in the queue: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim(
    database: Database, worker_id: str, kinds: list[str], lease_seconds: float, max_attempts: int
) -> ClaimedItem | None:
    """Claims the oldest available item of one of ``kinds``, or returns None when there is none.

    An item is available when it is pending and due, or claimed with a lease that ran out. An item
    whose worker died ``max_attempts`` times is marked failed instead of being handed out again.
    """
    if not kinds:
        return None
    while True:
        with database.session() as session:
            now = utcnow()
            row = session.scalar(
                select(WorkItem)
                .where(
                    WorkItem.kind.in_(kinds),
                    or_(
                        and_(WorkItem.status == PENDING, WorkItem.available_at <= now),
                        and_(WorkItem.status == CLAIMED, WorkItem.lease_until < now),
                    ),
                )
                .order_by(WorkItem.available_at, WorkItem.id)
                .limit(1)
                # PostgreSQL: other workers skip this row instead of waiting; SQLite ignores it and
                # relies on the compare-and-set below (and on one worker at a time).
                .with_for_update(skip_locked=True)
            )
            if row is None:
                return None
            expired = row.status == CLAIMED
            if expired and row.attempts >= max_attempts:
                row.status = FAILED
                row.error = f"gave up after {row.attempts} attempts; the last worker ({row.claimed_by}) died"
                row.finished_at = now
                row.lease_until = None
                continue
            claimed = session.execute(
                update(WorkItem)
                .where(
                    WorkItem.id == row.id,
                    WorkItem.status == row.status,
                    WorkItem.attempts == row.attempts,
                )
                .values(
                    status=CLAIMED,
                    claimed_by=worker_id,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=row.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # someone else took it between our read and write
            if expired:
                log.warning("item %s: lease of %s ran out; retrying", row.id, row.claimed_by)
            return ClaimedItem(row.id, row.kind, dict(row.payload or {}), row.attempts + 1)


def extend_lease(database: Database, item_id: int, worker_id: str, lease_seconds: float) -> bool:
    """Renews a lease; False when the worker no longer holds it."""
    with database.session() as session:
        result = session.execute(
            update(WorkItem)
            .where(WorkItem.id == item_id, WorkItem.claimed_by == worker_id, WorkItem.status == CLAIMED)
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _finish(session: Session, item: ClaimedItem, worker_id: str) -> None:
    result = session.execute(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.claimed_by == worker_id, WorkItem.status == CLAIMED)
        .values(status=DONE, finished_at=utcnow(), lease_until=None, error=None)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLostError(f"lost the lease of work item {item.id}; another worker has it")


def _fail(
    database: Database, item: ClaimedItem, worker_id: str, error: str, *, retry: bool, max_attempts: int
) -> None:
    with database.session() as session:
        now = utcnow()
        final = not retry or item.attempts >= max_attempts
        backoff = min(MAX_BACKOFF_SECONDS, 2**item.attempts)
        session.execute(
            update(WorkItem)
            .where(WorkItem.id == item.id, WorkItem.claimed_by == worker_id, WorkItem.status == CLAIMED)
            .values(
                status=FAILED if final else PENDING,
                error=error[:2000],
                lease_until=None,
                available_at=now if final else now + timedelta(seconds=backoff),
                finished_at=now if final else None,
            )
        )


class _Heartbeat:
    """Renews a lease every third of its length while a handler runs."""

    def __init__(self, database: Database, item: ClaimedItem, worker_id: str, lease_seconds: float) -> None:
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(
            target=self._run, args=(database, item, worker_id, lease_seconds), daemon=True
        )

    def _run(self, database: Database, item: ClaimedItem, worker_id: str, lease_seconds: float) -> None:
        while not self._stop.wait(lease_seconds / 3):
            try:
                if not extend_lease(database, item.id, worker_id, lease_seconds):
                    self.lost = True
                    return
            except Exception:  # a database hiccup: try again next beat, the lease has slack
                log.exception("could not renew the lease of item %s", item.id)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def run_one(
    database: Database,
    settings: Settings,
    handlers: HandlerRegistry,
    worker_id: str,
) -> ClaimedItem | None:
    """Claims one item, runs its handler and records the outcome; returns the item, or None if idle."""
    item = claim(
        database, worker_id, handlers.kinds(), settings.worker_lease_seconds, settings.worker_max_attempts
    )
    if item is None:
        return None
    handler = handlers.get(item.kind)
    assert handler is not None  # claim() only hands out registered kinds
    try:
        with (
            _Heartbeat(database, item, worker_id, settings.worker_lease_seconds),
            database.session() as session,
        ):
            handler(WorkContext(session=session, settings=settings, item=item, worker_id=worker_id))
            _finish(session, item, worker_id)
    except LeaseLostError as error:
        log.warning("%s", error)
    except PermanentWorkError as error:
        log.warning("item %s (%s) failed for good: %s", item.id, item.kind, error)
        _fail(database, item, worker_id, str(error), retry=False, max_attempts=settings.worker_max_attempts)
    except Exception as error:  # any handler failure is recorded on the item and retried with back-off
        log.exception("item %s (%s) failed", item.id, item.kind)
        message = str(error) if isinstance(error, HallmarkError) else f"{type(error).__name__}: {error}"
        _fail(database, item, worker_id, message, retry=True, max_attempts=settings.worker_max_attempts)
    return item


def run_worker(
    database: Database,
    settings: Settings,
    handlers: HandlerRegistry,
    *,
    worker_id: str | None = None,
    stop: threading.Event | None = None,
    until_idle: bool = False,
    max_items: int | None = None,
) -> int:
    """Works the queue until stopped; returns how many items it handled.

    Args:
        until_idle: Return as soon as no item is available (``hallmark worker --until-idle``).
        max_items: Return after this many items.
    """
    worker_id = worker_id or default_worker_id()
    stop = stop or threading.Event()
    handled = 0
    while not stop.is_set() and (max_items is None or handled < max_items):
        item = run_one(database, settings, handlers, worker_id)
        if item is not None:
            handled += 1
            continue
        if until_idle:
            break
        stop.wait(settings.worker_poll_seconds)
    return handled


@contextmanager
def sqlite_worker_lock(home: Path, *, wait: bool) -> Iterator[None]:
    """Holds the data directory's worker lock: SQLite serves one worker at a time.

    Raises:
        WorkerBusyError: Another worker holds the lock and ``wait`` is false.
    """
    home.mkdir(parents=True, exist_ok=True)
    path = home / "worker.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WorkerBusyError(
                f"another worker ({holder}) is already working this SQLite database; SQLite allows one "
                "worker at a time: wait for it with --wait, or use PostgreSQL (HALLMARK_DATABASE_URL) "
                "for several workers"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def queue_counts(session: Session) -> dict[str, int]:
    """How many items are in each state."""
    counts = {PENDING: 0, CLAIMED: 0, DONE: 0, FAILED: 0}
    for status, count in session.execute(select(WorkItem.status, func.count()).group_by(WorkItem.status)):
        counts[status] = count
    return counts
