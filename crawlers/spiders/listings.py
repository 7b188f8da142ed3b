"""The listing spider: one generic spider that crawls any marketplace its adapter describes.

From the adapter it takes where to start (a JSON API, search pages, or search pages rendered in
Chromium), how far to page, and whether to read each listing's item page. It yields a
:class:`~crawlers.items.ListingItem` per listing and keeps what the pipeline needs to tell a removed
listing from one this crawl did not reach: every listing URL the search showed, the item pages that
answered 404 or 410, and whether the search was read to its end.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.adapter import Adapter, get_adapter
from crawlers.extract import PageError, extract_api_listings, extract_listings, next_api_offset
from crawlers.failures import ROBOTS, error_kind, http_kind
from crawlers.guard import host_of
from crawlers.items import ListingItem
from crawlers.listing import ExtractedListing
from crawlers.pagination import next_page_url

#: Statuses that say a listing is no longer there.
GONE_STATUSES = frozenset({404, 410})
#: Milliseconds to wait for an infinite-scroll page to load more after a scroll.
SCROLL_SETTLE_MS = 5_000


def bounded(adapter: Adapter, max_pages: int | None) -> Adapter:
    """``adapter`` with its page bound replaced by the crawl job's, when the job gives one."""
    if max_pages is None or adapter.search is None:
        return adapter
    pagination = adapter.search.pagination.model_copy(update={"max_pages": max_pages})
    return adapter.model_copy(update={"search": adapter.search.model_copy(update={"pagination": pagination})})


class ListingSpider(scrapy.Spider):
    """Crawls one search (one query) of one marketplace, as its adapter describes.

    Args:
        adapter: the adapter's name.
        base_url: where the marketplace runs; the adapter's default when ``None``.
        query: the search words ("" for everything the search lists).
        max_pages: bound on search (or API, or scroll) pages; the adapter's when ``None``.
    """

    name = "listings"

    def __init__(
        self,
        adapter: str,
        base_url: str | None = None,
        query: str = "",
        max_pages: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        pages = int(max_pages) if max_pages not in (None, "") else None
        self.adapter: Adapter = bounded(get_adapter(adapter), pages)
        self.base_url = (base_url or self.adapter.base_url or "").rstrip("/")
        self.query = query or ""
        self.max_pages = pages or (
            self.adapter.search.pagination.max_pages if self.adapter.search is not None else 5
        )
        self.base_host = host_of(self.base_url)
        #: Canonical URLs of every listing the search (or API) showed.
        self.seen_urls: set[str] = set()
        #: Listings whose item page answered 404 or 410.
        self.gone_urls: set[str] = set()
        #: Whether the search was read to its end; only then may unseen listings be called gone.
        self.search_complete = True
        self.search_end_reasons: list[str] = []

    # -- starting points -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        """The first request: the API, the rendered search page, or the plain search page."""
        adapter = self.adapter
        if adapter.api is not None:
            yield self._api_request(0, 1)
        elif adapter.search is not None:
            yield self._search_request(adapter.search_url(self.base_url, self.query), 1)
        else:
            self.logger.error("adapter %r has no [api] or [search] section to start from", adapter.name)
            self._incomplete("no starting point")

    def _search_request(self, url: str, pages_seen: int) -> Request:
        meta: dict[str, Any] = {"hallmark_page": "search"}
        callback = self.parse_search
        if self.adapter.needs_browser:
            meta.update(
                playwright=True,
                playwright_include_page=True,
                playwright_page_goto_kwargs={"wait_until": "networkidle"},
            )
            callback = self.parse_rendered  # type: ignore[assignment]
        return Request(
            url,
            callback=callback,
            errback=self.search_failed,
            cb_kwargs={"pages_seen": pages_seen},
            meta=meta,
            dont_filter=True,
        )

    def _api_request(self, offset: int, pages_seen: int) -> Request:
        return Request(
            self.adapter.api_url(self.base_url, self.query, offset),
            callback=self.parse_api,
            errback=self.search_failed,
            cb_kwargs={"offset": offset, "pages_seen": pages_seen},
            meta={"hallmark_page": "search"},
            headers={"Accept": "application/json"},
            dont_filter=True,
        )

    # -- search pages ----------------------------------------------------------------------------

    def parse_search(self, response: Response, pages_seen: int) -> Iterator[Request | ListingItem]:
        """A search results page: its listings, then the next page up to the bound."""
        self._count("pages")
        html = response.text if isinstance(response, TextResponse) else ""
        try:
            listings = extract_listings(html, response.url, adapter=self.adapter)
        except PageError as error:
            self._error("unreadable_page", response.url, str(error))
            self._incomplete("an unreadable search page")
            return
        yield from self._follow(listings, response.url)
        following = next_page_url(html, response.url, self.adapter, pages_seen=pages_seen)
        if following is not None:
            yield self._search_request(following, pages_seen + 1)
        elif next_page_url(html, response.url, self.adapter, pages_seen=0) is not None:
            self._incomplete(f"stopped at the bound of {self.max_pages} pages")

    async def parse_rendered(
        self, response: Response, pages_seen: int
    ) -> AsyncIterator[Request | ListingItem]:
        """A search page rendered in Chromium; infinite scroll is scrolled up to the bound."""
        page = response.meta["playwright_page"]
        html = response.text if isinstance(response, TextResponse) else ""
        try:
            pagination = self.adapter.search.pagination if self.adapter.search else None
            if pagination is not None and pagination.infinite_scroll:
                html, loads, exhausted = await self._scroll(page, html)
                self._count("pages", loads)
                if not exhausted:
                    self._incomplete(f"stopped scrolling at the bound of {self.max_pages} pages")
            else:
                html = await page.content()
                self._count("pages")
        finally:
            await page.close()
        try:
            listings = extract_listings(html, response.url, adapter=self.adapter)
        except PageError as error:
            self._error("unreadable_page", response.url, str(error))
            self._incomplete("an unreadable search page")
            return
        for request_or_item in self._follow(listings, response.url):
            yield request_or_item
        if pagination is not None and not pagination.infinite_scroll:
            following = next_page_url(html, response.url, self.adapter, pages_seen=pages_seen)
            if following is not None:
                yield self._search_request(following, pages_seen + 1)
            elif next_page_url(html, response.url, self.adapter, pages_seen=0) is not None:
                self._incomplete(f"stopped at the bound of {self.max_pages} pages")

    async def _scroll(self, page: Any, html: str) -> tuple[str, int, bool]:
        """Scrolls until no more cards load or the bound is reached.

        Returns:
            The rendered HTML, how many loads (pages) it took, and whether the list ended by itself.
        """
        loads = 1
        html = await page.content()
        count = self._card_count(html)
        while loads < self.max_pages:
            await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            try:
                await page.wait_for_function(
                    "([selector, before]) => document.querySelectorAll(selector).length > before",
                    arg=[self._card_css(), count],
                    timeout=SCROLL_SETTLE_MS,
                )
            except Exception:  # Playwright's TimeoutError: nothing more loaded, the list ended
                return await page.content(), loads, True
            loads += 1
            await page.wait_for_load_state("networkidle")
            html = await page.content()
            count = self._card_count(html)
        # At the bound: one more scroll tells whether the list had more to give.
        await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        try:
            await page.wait_for_function(
                "([selector, before]) => document.querySelectorAll(selector).length > before",
                arg=[self._card_css(), count],
                timeout=SCROLL_SETTLE_MS,
            )
        except Exception:
            return html, loads, True
        return html, loads, False

    def _card_css(self) -> str:
        search = self.adapter.search
        css = [selector.css for selector in search.cards if selector.css] if search else []
        return ", ".join(css) or "a[href]"

    def _card_count(self, html: str) -> int:
        search = self.adapter.search
        if search is None:
            return 0
        page = Selector(text=html, type="html")
        return sum(len(selector.select(page)) for selector in search.cards)

    def parse_api(self, response: Response, offset: int, pages_seen: int) -> Iterator[Request | ListingItem]:
        """A page of a storefront's JSON API, then the next offset up to the bound."""
        self._count("pages")
        try:
            payload = response.json()  # type: ignore[attr-defined]
            listings = extract_api_listings(payload, response.url, self.adapter)
        except (ValueError, AttributeError, PageError) as error:
            self._error("unreadable_page", response.url, str(error))
            self._incomplete("an unreadable API page")
            return
        yield from self._follow(listings, response.url)
        following = next_api_offset(payload, self.adapter, offset)
        if following is not None and pages_seen < self.max_pages:
            yield self._api_request(following, pages_seen + 1)
        elif following is not None:
            self._incomplete(f"stopped at the bound of {self.max_pages} pages")

    def search_failed(self, failure: Failure) -> None:
        """A search or API page that failed (after retries): the crawl goes on, but is partial."""
        request = failure.request  # type: ignore[attr-defined]
        self._record_failure(failure, request.url)
        self._incomplete(f"search page {request.url} failed")

    # -- listings and item pages -----------------------------------------------------------------

    def _follow(self, listings: list[ExtractedListing], page_url: str) -> Iterator[Request | ListingItem]:
        item = self.adapter.item
        for listing in listings:
            if host_of(listing.url) != self.base_host:
                # Pages are fetched from the configured host only; a link elsewhere is not followed.
                self._count("offsite_listings")
                continue
            self.seen_urls.add(listing.url)
            if item is None or (item.url_pattern and not re.search(item.url_pattern, _path(listing.url))):
                yield ListingItem(listing=listing, page_url=page_url)
                continue
            yield Request(
                listing.url,
                callback=self.parse_item,
                errback=self.item_failed,
                cb_kwargs={"card": listing},
                meta={"hallmark_page": "item"},
                # Item pages before more search pages: listings finish early, and memory stays flat.
                priority=10,
            )

    def parse_item(self, response: Response, card: ExtractedListing) -> Iterator[ListingItem]:
        """An item page: its fields, filled from the card where the page lacks them."""
        self._count("pages")
        self._count("item_pages")
        html = response.text if isinstance(response, TextResponse) else ""
        try:
            found = extract_listings(html, response.url, adapter=self.adapter)
        except PageError as error:
            self._error("unreadable_page", response.url, str(error))
            return
        same = [listing for listing in found if listing.url == card.url]
        page = same[0] if same else (found[0] if len(found) == 1 else None)
        if page is None:
            self._error("unextractable", response.url, "no listing found on the item page")
            return
        # The card's URL stays the listing's identity: it is what the search shows and re-crawls see.
        yield ListingItem(
            listing=page.model_copy(update={"url": card.url}).merged(card), page_url=response.url
        )

    def item_failed(self, failure: Failure) -> None:
        """An item page that failed: 404 and 410 mean the listing is gone, anything else is an error."""
        request = failure.request  # type: ignore[attr-defined]
        card: ExtractedListing = request.cb_kwargs["card"]
        if failure.check(HttpError) and failure.value.response.status in GONE_STATUSES:
            self.gone_urls.add(card.url)
        self._record_failure(failure, request.url)

    # -- bookkeeping -----------------------------------------------------------------------------

    def _record_failure(self, failure: Failure, url: str) -> None:
        resolver = getattr(self.crawler, "hallmark_resolver", None)
        kind = error_kind(failure, url=url, refused_hosts=getattr(resolver, "refused", None))
        if kind == ROBOTS:
            self._count("robots_refused")
            self.logger.info("robots.txt forbids %s; not fetched", url)
            return
        if failure.check(HttpError):
            kind = http_kind(failure.value.response.status)
        self._error(kind, url, str(failure.value))

    def _error(self, kind: str, url: str, message: str) -> None:
        self._count(f"errors/{kind}")
        self.logger.warning("%s: %s (%s)", kind, url, message)

    def _incomplete(self, reason: str) -> None:
        self.search_complete = False
        self.search_end_reasons.append(reason)
        self.logger.info("the search is partial: %s; no listing will be marked gone", reason)

    def _count(self, key: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"hallmark/{key}", count)


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path
