"""Retries with back-off: a site that answers 5xx or 429 gets time to recover before we ask again.

Scrapy's own RetryMiddleware re-queues a failed request at once. This one waits first: the base delay
doubled per attempt, or what a 429 or 503's ``Retry-After`` asks for, capped. The wait holds the
site's download slot (one request at a time per site), so the whole site is left alone meanwhile,
which is what an overloaded or rate-limiting server asks for. 404 and 410 are never retried: they
are answers, not failures.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response
from scrapy.utils.response import response_status_message

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings


def retry_after_seconds(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date); ``None`` if unusable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """How long to wait before retry number ``attempt`` (1 for the first).

    The server's ``Retry-After`` wins when it gives one; otherwise ``base`` doubles per attempt, with
    up to 25 % jitter so that many crawlers do not come back in step. Never more than ``cap``.
    """
    if retry_after is not None:
        return min(cap, retry_after)
    delay = base * 2 ** (attempt - 1)
    return min(cap, delay * (1 + random.uniform(0, 0.25)))  # noqa: S311 - jitter, not security


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware (same settings and stats) with a back-off before each retry.

    Settings: ``RETRY_TIMES``, ``RETRY_HTTP_CODES``, ``HALLMARK_RETRY_BASE_DELAY`` and
    ``HALLMARK_RETRY_MAX_DELAY`` (seconds).
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.base_delay = settings.getfloat("HALLMARK_RETRY_BASE_DELAY", 2.0)
        self.max_delay = settings.getfloat("HALLMARK_RETRY_MAX_DELAY", 120.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        wait = backoff_seconds(
            retry.meta.get("retry_times", 1),
            self.base_delay,
            self.max_delay,
            retry_after_seconds(response.headers.get("Retry-After"))
            if response.status in (429, 503)
            else None,
        )
        await asyncio.sleep(wait)
        return retry

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await asyncio.sleep(
                backoff_seconds(retry.meta.get("retry_times", 1), self.base_delay, self.max_delay)
            )
        return retry
