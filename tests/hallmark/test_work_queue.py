"""The work queue: items are claimed once, retried when they fail or their worker dies, and recorded once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from hallmark.db import Database, Serial, WorkItem, open_database, utcnow
from hallmark.errors import WorkerBusyError
from hallmark.settings import Settings
from hallmark.work_queue import (
    DONE,
    FAILED,
    PENDING,
    HandlerRegistry,
    PermanentWorkError,
    WorkContext,
    claim,
    enqueue,
    queue_counts,
    run_one,
    sqlite_worker_lock,
)
from index.service import open_catalog

TESTS = Path(__file__).resolve().parents[1]
HALLMARK = Path(sys.executable).parent / "hallmark"


def _registry(handler: object) -> HandlerRegistry:
    registry = HandlerRegistry()
    registry.register("job", handler)  # type: ignore[arg-type]
    return registry


def _item(database: Database, item_id: int) -> WorkItem:
    with database.session() as session:
        item = session.get(WorkItem, item_id)
        assert item is not None
        return item


def _enqueue(database: Database, payload: dict[str, object] | None = None, kind: str = "job") -> int:
    with database.session() as session:
        return enqueue(session, kind, payload or {}).id


def test_a_done_item_is_not_handed_out_again(database: Database, db_settings: Settings) -> None:
    seen: list[int] = []
    registry = _registry(lambda context: seen.append(context.item.id))
    item_id = _enqueue(database)
    assert run_one(database, db_settings, registry, "w1") is not None
    assert run_one(database, db_settings, registry, "w1") is None
    assert seen == [item_id] and _item(database, item_id).status == DONE


def test_a_failing_item_is_retried_with_back_off_then_marked_failed(
    database: Database, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, database_url=database.url, worker_max_attempts=2)

    def broken(context: WorkContext) -> None:
        raise RuntimeError("the marketplace is down")

    registry = _registry(broken)
    item_id = _enqueue(database)
    run_one(database, settings, registry, "w1")
    item = _item(database, item_id)
    assert (item.status, item.attempts) == (PENDING, 1)
    assert item.available_at > utcnow() and "the marketplace is down" in (item.error or "")
    with database.session() as session:  # skip the back-off
        session.execute(update(WorkItem).values(available_at=utcnow()))
    run_one(database, settings, registry, "w1")
    assert (_item(database, item_id).status, _item(database, item_id).attempts) == (FAILED, 2)


def test_a_permanent_error_fails_the_item_at_once_and_rolls_back_its_changes(
    database: Database, db_settings: Settings
) -> None:
    def hopeless(context: WorkContext) -> None:
        context.session.add(Serial(serial="HALF-DONE", sku="x", imported_at=utcnow()))
        raise PermanentWorkError("the photo is not an image")

    item_id = _enqueue(database)
    run_one(database, db_settings, _registry(hopeless), "w1")
    assert _item(database, item_id).status == FAILED
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Serial)) == 0


def test_an_item_whose_worker_stopped_renewing_its_lease_is_claimed_again(database: Database) -> None:
    item_id = _enqueue(database)
    first = claim(database, "dead-worker", ["job"], lease_seconds=60, max_attempts=5)
    assert first is not None and claim(database, "w2", ["job"], 60, 5) is None
    with database.session() as session:
        session.execute(update(WorkItem).values(lease_until=utcnow() - timedelta(seconds=1)))
    again = claim(database, "w2", ["job"], 60, 5)
    assert again is not None and (again.id, again.attempts) == (item_id, 2)
    assert _item(database, item_id).claimed_by == "w2"


def test_a_worker_that_lost_its_lease_cannot_record_the_item(
    database: Database, db_settings: Settings
) -> None:
    item_id = _enqueue(database)
    registry = HandlerRegistry()

    def slow(context: WorkContext) -> None:
        # While this worker works, its lease runs out and another worker takes the item.
        with database.session() as session:
            session.execute(
                update(WorkItem).values(claimed_by="other", lease_until=utcnow() + timedelta(minutes=1))
            )
        context.session.add(Serial(serial="LOST", sku="x", imported_at=utcnow()))

    registry.register("job", slow)
    run_one(database, db_settings, registry, "w1")
    item = _item(database, item_id)
    assert (item.status, item.claimed_by) == ("claimed", "other")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Serial)) == 0


def test_an_item_given_up_by_dying_workers_is_marked_failed(database: Database) -> None:
    item_id = _enqueue(database)
    for _ in range(2):
        assert claim(database, "dies", ["job"], 60, max_attempts=2) is not None
        with database.session() as session:
            session.execute(update(WorkItem).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert claim(database, "w3", ["job"], 60, max_attempts=2) is None
    item = _item(database, item_id)
    assert item.status == FAILED and "died" in (item.error or "")


def test_on_sqlite_a_second_worker_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with sqlite_worker_lock(tmp_path, wait=False):
        with (
            pytest.raises(WorkerBusyError, match="one worker at a time") as refused,
            sqlite_worker_lock(tmp_path, wait=False),
        ):
            pass
        assert f"pid {os.getpid()}" in str(refused.value)


def test_on_sqlite_a_second_worker_that_waits_gets_its_turn(tmp_path: Path) -> None:
    order: list[str] = []
    with sqlite_worker_lock(tmp_path, wait=False):

        def second() -> None:
            with sqlite_worker_lock(tmp_path, wait=True):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first done")
    thread.join(5)
    assert order == ["first done", "second"]


# -- real worker processes -----------------------------------------------------------------------


def _environment(settings: Settings, log_level: str = "WARNING", **extra: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        HALLMARK_HOME=str(settings.home),
        HALLMARK_MODEL_CACHE=str(settings.model_cache),
        HALLMARK_DATABASE_URL=settings.resolved_database_url,
        HALLMARK_WORKER_PLUGINS='["work_plugin"]',
        HALLMARK_WORKER_POLL_SECONDS="0.1",
        PYTHONPATH=os.pathsep.join([str(TESTS), environment.get("PYTHONPATH", "")]),
        **extra,
    )
    return environment


def _start_worker(environment: dict[str, str], *arguments: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(HALLMARK), "worker", *arguments],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    # The worker says which kinds it serves once it is ready to claim.
    for line in process.stderr:
        if ": kinds " in line:
            return process
    process.wait(5)
    raise AssertionError(f"the worker did not start (exit {process.returncode})")


def _wait(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def pg_settings(postgres_url: str, tmp_path: Path, model_cache: Path) -> Iterator[Settings]:
    settings = Settings(home=tmp_path / "home", model_cache=model_cache, database_url=postgres_url)
    open_catalog(settings)  # migrate, and export the model once rather than in each worker
    yield settings


def _stop(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(30)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_worker_processes_share_one_postgresql_queue_and_do_each_item_once(
    pg_settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "work.log"
    environment = _environment(pg_settings)
    workers = [_start_worker(environment), _start_worker(environment)]
    database = open_database(pg_settings)
    try:
        with database.session() as session:
            ids = [enqueue(session, "test_record", {"log": str(log), "sleep": 0.1}).id for _ in range(30)]
        _wait(lambda: queue_counts_of(database)[DONE] == len(ids), timeout=60)
    finally:
        _stop(*workers)
    with database.session() as session:
        recorded = sorted(session.scalars(select(Serial.serial)))
    assert recorded == sorted(f"ITEM-{item_id}" for item_id in ids)
    starts = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(start[1]) for start in starts) == sorted(ids)  # each item started exactly once
    assert {start[2] for start in starts} == {str(worker.pid) for worker in workers}


@pytest.mark.slow
@pytest.mark.postgres
def test_the_item_of_a_killed_worker_is_done_by_another_after_its_lease(
    pg_settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "work.log"
    environment = _environment(pg_settings, HALLMARK_WORKER_LEASE_SECONDS="2")
    database = open_database(pg_settings)
    with database.session() as session:
        item_id = enqueue(session, "test_record", {"log": str(log), "sleep": 120}).id
    doomed = _start_worker(environment)
    _wait(lambda: log.exists() and f"start {item_id}" in log.read_text(), timeout=30)
    doomed.kill()
    doomed.wait(10)
    survivor = _start_worker(environment, "--max-items", "1")
    try:
        assert survivor.wait(60) == 0
    finally:
        _stop(survivor)
    item = _item(database, item_id)
    assert (item.status, item.attempts, item.claimed_by is not None) == (DONE, 2, True)
    starts = [line.split() for line in log.read_text().splitlines()]
    assert [(start[2], start[3]) for start in starts] == [(str(doomed.pid), "1"), (str(survivor.pid), "2")]
    with database.session() as session:
        assert list(session.scalars(select(Serial.serial))) == [f"ITEM-{item_id}"]


@pytest.mark.slow
def test_a_second_worker_process_on_sqlite_is_refused_or_waits_its_turn(
    tmp_path: Path, model_cache: Path
) -> None:
    settings = Settings(home=tmp_path / "home", model_cache=model_cache)
    open_catalog(settings)
    environment = _environment(settings)
    first = _start_worker(environment)
    try:
        refused = subprocess.run(
            [str(HALLMARK), "worker", "--until-idle"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1
        assert "another worker" in refused.stderr and "--wait" in refused.stderr
        waiting = subprocess.Popen(
            [str(HALLMARK), "worker", "--until-idle", "--wait"],
            env=environment,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        assert waiting.poll() is None
    finally:
        _stop(first)
    assert waiting.wait(60) == 0


def queue_counts_of(database: Database) -> dict[str, int]:
    with database.session() as session:
        return queue_counts(session)
