"""Engine, sessions and schema migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from hallmark.errors import HallmarkError
from hallmark.settings import Settings, get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer commits; FULL sync because a brand's enforcement record
    # must survive a power cut; SQLite leaves foreign keys off unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` that needs no ``alembic.ini`` on disk."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolates '%'; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            # Sessions may be used from worker threads (FastAPI's thread pool); SQLite serialises.
            connect_args["check_same_thread"] = False
            connect_args["timeout"] = 30
        self.engine: Engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _configure_sqlite)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        """Brings the schema to the newest migration."""
        config = alembic_config(self.url)
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed when the block ends, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


_opened: dict[str, Database] = {}
_opened_lock = threading.Lock()


def open_database(settings: Settings | None = None) -> Database:
    """The database for ``settings`` (default: the process's), created and migrated on first use."""
    settings = settings or get_settings()
    url = settings.resolved_database_url
    with _opened_lock:
        database = _opened.get(url)
        if database is None:
            if url.startswith("sqlite:///"):
                try:
                    Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise HallmarkError(f"cannot create the data directory: {error}") from error
            database = Database(url)
            database.upgrade()
            _opened[url] = database
        return database
