"""Rate limits per API key and per client address, on the ``limits`` library.

Counters live in the storage ``HALLMARK_RATE_LIMIT_STORAGE`` names: ``memory://`` for one process, or a
shared store such as ``redis://HOST:6379/0`` when several API processes serve together (the Redis
client must then be installed: ``pip install redis``).
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from hallmark.errors import ConfigurationError, RateLimitedError, RateLimitStoreUnavailableError
from hallmark.settings import Settings

log = logging.getLogger(__name__)


def _parse(setting: str, value: str) -> RateLimitItem:
    try:
        return parse(value)
    except ValueError:
        raise ConfigurationError(
            f"HALLMARK_{setting.upper()}={value!r} is not a rate limit; write it like '120/minute'"
        ) from None


def open_storage(uri: str) -> Storage:
    """The counter storage for a URI.

    Raises:
        ConfigurationError: The URI is not one ``limits`` knows, or its client library is missing.
    """
    # A Redis that hangs must not hang every request: bounded connect and read times (seconds).
    options: dict[str, float] = {}
    if uri.startswith(("redis://", "rediss://", "redis+unix://")):
        options = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}
    try:
        storage = storage_from_string(uri, **options)
    except LimitsConfigurationError as error:
        raise ConfigurationError(f"HALLMARK_RATE_LIMIT_STORAGE={uri!r} cannot be used: {error}") from None
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f"HALLMARK_RATE_LIMIT_STORAGE={uri!r} is not a storage URI: {error}"
        ) from None
    if not isinstance(storage, Storage):  # an async:// storage; this server's limiter is synchronous
        raise ConfigurationError(f"HALLMARK_RATE_LIMIT_STORAGE={uri!r}: async storages are not supported")
    return storage


class RateLimiter:
    """Per-key and per-address request budgets over a moving window."""

    def __init__(self, settings: Settings) -> None:
        self.per_key = _parse("rate_limit_per_key", settings.rate_limit_per_key)
        self.public = _parse("rate_limit_public", settings.rate_limit_public)
        self.storage = open_storage(settings.rate_limit_storage)
        self._limiter = MovingWindowRateLimiter(self.storage)

    def _hit(self, item: RateLimitItem, identity: str, who: str) -> None:
        # Fail closed: a budget that cannot be counted is not granted. The store's client raises its own
        # error types (redis.ConnectionError, TimeoutError...), hence the broad except around the store.
        try:
            if self._limiter.hit(item, identity):
                return
            reset = self._limiter.get_window_stats(item, identity).reset_time
        except Exception as error:
            log.error("rate-limit store unavailable (%s): %s", type(error).__name__, error)
            raise RateLimitStoreUnavailableError(
                "the rate-limit store is unavailable; requests are refused until it is back, retry later"
            ) from error
        retry_after = max(1, math.ceil(reset - time.time()))
        raise RateLimitedError(
            f"too many requests {who} (limit {item}); retry in {retry_after} s", retry_after
        )

    def hit_key(self, key_id: int) -> None:
        """Counts a request by an API key.

        Raises:
            RateLimitedError: The key is over its budget.
            RateLimitStoreUnavailableError: The counter storage cannot be reached.
        """
        self._hit(self.per_key, f"key:{key_id}", "for this API key")

    def hit_address(self, address: str) -> None:
        """Counts an anonymous request from a client address.

        Raises:
            RateLimitedError: The address is over its budget.
            RateLimitStoreUnavailableError: The counter storage cannot be reached.
        """
        self._hit(self.public, f"address:{address}", "from this address")
