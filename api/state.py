"""What the app holds for its lifetime: settings, database, rate limiter, and the catalog and matcher."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from api.rate_limit import RateLimiter
from hallmark.db import Database, open_database
from hallmark.settings import Settings
from index.catalog import Catalog
from index.matcher import Matcher
from index.service import open_catalog, open_matcher


@dataclass
class AppState:
    """The app's long-lived parts; the model is loaded on first use (or at start-up, by the lifespan)."""

    settings: Settings
    database: Database
    limiter: RateLimiter
    _matcher: Matcher | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings) -> AppState:
        """Checks the configuration (rate limits first: they need no database) and opens the database.

        Raises:
            ConfigurationError: A rate-limit setting is invalid.
        """
        limiter = RateLimiter(settings)
        return cls(settings=settings, database=open_database(settings), limiter=limiter)

    @property
    def matcher(self) -> Matcher:
        # Two requests may arrive before the model is loaded; one loads it, the other waits.
        with self._lock:
            if self._matcher is None:
                self._matcher = open_matcher(self.settings, open_catalog(self.settings))
            return self._matcher

    @property
    def catalog(self) -> Catalog:
        return self.matcher.catalog
