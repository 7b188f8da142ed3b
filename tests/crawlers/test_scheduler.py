"""Recurring crawl jobs: kept in the database across processes, never run twice at once."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FAST_CRAWL_ENV
from demo_market_server import DemoMarket
from hallmark_cli import HALLMARK, REPO, HallmarkRunner
from sqlalchemy import select

from crawlers.job import CrawlJob
from crawlers.jobs import RUNNING
from crawlers.schedules import add_schedule, claim_due
from hallmark.db import CrawlRun, open_database
from hallmark.errors import ConflictError
from hallmark.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


class TestClaims:
    def test_a_due_schedule_is_claimed_once_and_then_not_before_its_interval(
        self, settings: Settings
    ) -> None:
        database = open_database(settings)
        with database.session() as session:
            add_schedule(session, "nightly", CrawlJob("demo-ssr", "http://127.0.0.1:1"), every_minutes=60)
        first = claim_due(database, max_run_seconds=3600)
        again = claim_due(database, max_run_seconds=3600)
        assert [run.name for run in first] == ["nightly"] and again == []
        with database.session() as session:
            run = session.get(CrawlRun, first[0].run_id)
            assert run is not None and run.status == RUNNING and run.schedule_id == first[0].schedule_id

    def test_a_schedule_whose_run_is_still_going_is_not_started_again(self, settings: Settings) -> None:
        database = open_database(settings)
        with database.session() as session:
            add_schedule(session, "often", CrawlJob("demo-ssr", "http://127.0.0.1:1"), every_minutes=1)
        [claimed] = claim_due(database, max_run_seconds=3600)
        with database.session() as session:
            claimed_at = session.get(CrawlRun, claimed.run_id).started_at  # type: ignore[union-attr]
        later = claimed_at + timedelta(minutes=5)
        assert claim_due(database, max_run_seconds=3600, now=later) == []
        # A run far past the time cap belongs to a dead process: it is abandoned and the job runs again.
        much_later = claimed_at + timedelta(hours=3)
        [again] = claim_due(database, max_run_seconds=3600, now=much_later)
        with database.session() as session:
            assert session.get(CrawlRun, claimed.run_id).status == "failed"  # type: ignore[union-attr]
            assert session.get(CrawlRun, again.run_id).status == RUNNING  # type: ignore[union-attr]

    def test_two_schedules_cannot_share_a_name(self, settings: Settings) -> None:
        database = open_database(settings)
        job = CrawlJob("demo-ssr", "http://127.0.0.1:1")
        with database.session() as session:
            add_schedule(session, "twice", job, every_minutes=5)
        with pytest.raises(ConflictError), database.session() as session:
            add_schedule(session, "twice", job, every_minutes=5)


class TestScheduleCommands:
    def test_schedules_persist_across_processes_until_removed(
        self, tmp_path: Path, model_cache: Path
    ) -> None:
        run = HallmarkRunner(tmp_path / "home", model_cache)
        added = run(
            "crawl", "schedule", "add", "bags", "demo-ssr", "--every", "30",
            "--base-url", "http://127.0.0.1:8765", "--query", "bag", "--max-pages", "2",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        listed = run("crawl", "schedule", "list")
        assert (
            listed.returncode == 0
            and "bags\tdemo-ssr\thttp://127.0.0.1:8765\tbag\tmax-pages 2" in listed.stdout
        )
        assert run("crawl", "schedule", "remove", "bags").returncode == 0
        assert run("crawl", "schedule", "list").stdout == ""

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("crawl", "schedule", "add", "x", "no-such-adapter", "--every", "5"), "no adapter named"),
            (("crawl", "schedule", "add", "x", "demo-ssr", "--every", "5", "--base-url", "ftp://a"), "http"),
            (("crawl", "schedule", "remove", "nothing"), "no schedule named"),
            (("crawl", "run", "no-such-adapter"), "no adapter named"),
        ],
    )
    def test_mistakes_get_one_line_and_an_exit_code(
        self, tmp_path: Path, model_cache: Path, args: tuple[str, ...], message: str
    ) -> None:
        done = HallmarkRunner(tmp_path / "home", model_cache)(*args)
        assert done.returncode in (1, 2)
        assert done.stderr.startswith("error: ") and message in done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_two_schedulers_on_one_database_run_a_due_job_once_and_stop_cleanly_on_ctrl_c(
    tmp_path: Path, model_cache: Path, demo_market: DemoMarket
) -> None:
    runner = HallmarkRunner(tmp_path / "home", model_cache)
    runner.env.update(FAST_CRAWL_ENV, HALLMARK_CRAWL_SCHEDULER_POLL_SECONDS="0.2")
    added = runner(
        "crawl", "schedule", "add", "once", "demo-ssr", "--every", "60",
        "--base-url", demo_market.base_url, "--max-pages", "1",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    demo_market.reset()
    schedulers = [
        subprocess.Popen(
            [HALLMARK, "scheduler"], cwd=REPO, env=runner.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    database = open_database(Settings(home=tmp_path / "home"))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with database.session() as session:
                runs = session.scalars(select(CrawlRun)).all()
                if runs and all(run.status != RUNNING for run in runs):
                    break
            time.sleep(0.3)
        time.sleep(1.0)  # several more polls of both schedulers: the job is not due again
    finally:
        for process in schedulers:
            process.send_signal(signal.SIGINT)
        outputs = [process.communicate(timeout=60) for process in schedulers]
    with database.session() as session:
        runs = session.scalars(select(CrawlRun)).all()
    assert len(runs) == 1 and runs[0].status == "finished", [(r.status, r.error) for r in runs]
    assert runs[0].stats["listings_new"] == 22  # the first page: 24 cards, one robots-refused, one 404
    for process, (_, stderr) in zip(schedulers, outputs, strict=True):
        assert process.returncode == 0 and b"Traceback" not in stderr
        assert b"scheduler: stopped" in stderr
