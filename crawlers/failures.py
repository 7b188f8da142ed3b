"""Names for what can go wrong in a crawl, so stats can count errors by kind."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as twisted_errors
from twisted.python.failure import Failure

from crawlers.guard import UnsafeRequest, host_of
from hallmark.errors import ImageError, ImageTooLargeError, UnsupportedImageFormatError

ROBOTS = "robots"
UNSAFE_ADDRESS = "unsafe_address"
#: Kinds that may go away by themselves: a later crawl tries again.
TRANSIENT = frozenset(
    {"timeout", "connection", "dns", "truncated", "http_5xx", "http_429", "download_failed"}
)


def http_kind(status: int) -> str:
    """``http_404``, ``http_410``, ``http_429``; every server error is ``http_5xx``."""
    return "http_5xx" if 500 <= status <= 599 else f"http_{status}"


def error_kind(
    error: BaseException | Failure, *, url: str | None = None, refused_hosts: dict[str, str] | None = None
) -> str:
    """The kind of a download or decoding failure, as counted in crawl stats.

    Args:
        error: the exception, or the Twisted failure wrapping it.
        url: the URL that failed.
        refused_hosts: hosts the guarded resolver refused; a failed lookup of one of them is a refusal,
            not a missing host.
    """
    exception: Any = error.value if isinstance(error, Failure) else error
    if isinstance(exception, HttpError):
        return http_kind(exception.response.status)
    if isinstance(exception, UnsafeRequest):
        return UNSAFE_ADDRESS
    if isinstance(exception, IgnoreRequest):
        return ROBOTS if "robots.txt" in str(exception) else "ignored"
    if isinstance(exception, DownloadTimeoutError | twisted_errors.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exception, CannotResolveHostError | twisted_errors.DNSLookupError):
        refused = bool(url and refused_hosts and host_of(url) in refused_hosts)
        return UNSAFE_ADDRESS if refused else "dns"
    if isinstance(exception, DownloadConnectionRefusedError | twisted_errors.ConnectError):
        return "connection"
    if isinstance(exception, DownloadCancelledError):
        return "too_large"
    if isinstance(exception, ResponseDataLossError):
        return "truncated"
    if isinstance(exception, DownloadFailedError):
        return "download_failed"
    if isinstance(exception, ImageTooLargeError):
        return "image_too_large"
    if isinstance(exception, UnsupportedImageFormatError):
        return "image_unsupported"
    if isinstance(exception, ImageError):
        return "image_corrupt"
    return type(exception).__name__


def describe(error: BaseException | Failure) -> str:
    """One line about ``error`` for logs and ``ListingImage.error``."""
    exception = error.value if isinstance(error, Failure) else error
    return str(exception).splitlines()[0][:500] if str(exception) else type(exception).__name__
