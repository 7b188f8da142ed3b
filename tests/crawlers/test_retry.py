"""Back-off before retries: doubling delays, Retry-After honoured, everything capped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from crawlers.retry import backoff_seconds, retry_after_seconds
from crawlers.settings import RETRY_HTTP_CODES


def test_retry_after_in_seconds_or_as_an_http_date_is_read() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_delays_double_per_attempt_with_a_little_jitter_up_to_the_cap() -> None:
    assert 2.0 <= backoff_seconds(1, 2.0, 60.0) <= 2.5
    assert 8.0 <= backoff_seconds(3, 2.0, 60.0) <= 10.0
    assert backoff_seconds(10, 2.0, 60.0) == 60.0


def test_the_servers_retry_after_wins_but_is_capped_too() -> None:
    assert backoff_seconds(1, 2.0, 60.0, retry_after=17.0) == 17.0
    assert backoff_seconds(1, 2.0, 60.0, retry_after=3600.0) == 60.0


def test_server_errors_and_rate_limits_are_retried_but_not_missing_pages() -> None:
    assert {500, 502, 503, 504, 429} <= set(RETRY_HTTP_CODES)
    assert 404 not in RETRY_HTTP_CODES and 410 not in RETRY_HTTP_CODES
