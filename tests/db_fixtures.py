"""Both databases for tests: a SQLite file, and a throwaway PostgreSQL cluster on a free loopback port.

Plain module with pytest fixtures, re-exported by ``tests/conftest.py``. The cluster is started once per
run from Debian's server binaries (as the ``postgres`` user when the tests run as root, because
PostgreSQL refuses root); each test gets a fresh database in it. Without the binaries the PostgreSQL
half is skipped, unless ``CI=true``, where it fails: CI must test both.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from local_services import free_port, service_unavailable

from hallmark.db import Database, open_database
from hallmark.settings import Settings

BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway cluster."""

    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _unavailable(reason: str) -> None:
    service_unavailable(
        f"PostgreSQL tests skipped: {reason}", f"PostgreSQL is required in CI (CI=true): {reason}"
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole run, on 127.0.0.1 and a free port, trust auth, no fsync."""
    binaries = _binaries()
    if binaries is None:
        _unavailable("no PostgreSQL server binaries (pg_ctl) found; install Debian's 'postgresql'")
    assert binaries is not None
    as_root = os.geteuid() == 0
    # pytest's own temporary folders are private to root; the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="hallmark-pg-"))
    run_as: list[str] = []
    if as_root:
        shutil.chown(folder, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, log = folder / "data", folder / "server.log"
    port = free_port()
    try:
        subprocess.run(
            [
                *run_as,
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300"
        )
        subprocess.run(
            [
                *run_as,
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, OSError) as error:
        output = getattr(error, "stderr", b"") or b""
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"the cluster did not start: {error}; {output.decode(errors='replace')[-500:]}")
    server = PostgresServer("127.0.0.1", port, "postgres")
    deadline = time.monotonic() + 30
    while True:
        try:
            server.admin().close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield server
    finally:
        subprocess.run(
            [*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, then a PostgreSQL database (the test runs on both)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hallmark.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh PostgreSQL database, for tests that need PostgreSQL itself (several workers)."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def db_settings(tmp_path: Path, model_cache: Path, database_url: str) -> Settings:
    """Settings for a fresh data directory on each database (SQLite, then PostgreSQL)."""
    return Settings(home=tmp_path / "home", model_cache=model_cache, database_url=database_url)


@pytest.fixture
def database(db_settings: Settings) -> Database:
    """The migrated database of ``db_settings``."""
    return open_database(db_settings)
