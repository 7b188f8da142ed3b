"""A crawl job: which marketplace (adapter), where it runs, what to search for, how far to page."""

from __future__ import annotations

from dataclasses import dataclass

from crawlers.adapter import get_adapter
from crawlers.extract import check_page_url
from hallmark.errors import InvalidRequestError

#: Upper bound on a job's page bound: a runaway job should be a typo, not a week of crawling.
MAX_PAGES_LIMIT = 1000


@dataclass(frozen=True)
class CrawlJob:
    """What one crawl covers; a complete crawl of a job may mark the job's unseen listings gone.

    Attributes:
        adapter: the site adapter's name.
        base_url: where the marketplace runs; the adapter's default when ``None``.
        query: search words; ``None`` lists everything the search shows.
        max_pages: bound on search pages (or API pages, or scrolls); the adapter's when ``None``.
    """

    adapter: str
    base_url: str | None = None
    query: str | None = None
    max_pages: int | None = None

    def validated(self) -> CrawlJob:
        """This job with its base URL normalised.

        Raises:
            NotFoundError: no adapter has that name.
            InvalidRequestError: the base URL is not an absolute http(s) URL, or the page bound is
                out of range, or the adapter has no default base URL and none is given.
        """
        adapter = get_adapter(self.adapter)
        base = self.base_url.rstrip("/") if self.base_url else None
        if base is not None:
            try:
                check_page_url(base)
            except Exception as error:
                raise InvalidRequestError(f"--base-url: {error}") from None
        elif not adapter.base_url:
            raise InvalidRequestError(f"adapter {adapter.name!r} has no default base URL; give --base-url")
        if self.max_pages is not None and not 1 <= self.max_pages <= MAX_PAGES_LIMIT:
            raise InvalidRequestError(f"--max-pages must be between 1 and {MAX_PAGES_LIMIT}")
        return CrawlJob(self.adapter, base, self.query or None, self.max_pages)
