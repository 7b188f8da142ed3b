"""The crawl's item pipeline: store each listing, fetch its photo safely, queue new photos for matching.

Photos are untrusted: they are requested through the crawl's own downloader (robots.txt, the delay
per site, retries) with the image byte cap as the request's ``download_maxsize`` (enforced while the
body streams in) and the address guard (``meta["hallmark_untrusted"]``); the bytes then go through
:func:`vision.decode.decode_image`, the one safe decoder that ``hallmark check`` uses too. A photo
that fails is recorded on its ``ListingImage.error``; the crawl goes on.

When the spider closes, a complete crawl marks the listings it no longer saw as gone, sent takedowns
of gone listings are marked removed, and the run's statistics are written to its ``CrawlRun``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.http import Request, Response

from crawlers.failures import describe, error_kind, http_kind
from crawlers.guard import UNTRUSTED
from crawlers.items import ListingItem
from crawlers.recheck import close_removed_cases
from crawlers.stats import collect_stats
from crawlers.store import (
    Outcome,
    PhotoResult,
    listing_ids,
    mark_gone,
    previously_seen,
    save_image_bytes,
    store_image,
    store_listing,
)
from hallmark.db import CrawlRun, Database, open_database, utcnow
from hallmark.errors import HallmarkError
from hallmark.settings import Settings, get_settings
from hallmark.work_queue import KIND_MATCH_LISTING_IMAGE, enqueue
from index.catalog import to_signed64
from vision.decode import decode_image
from vision.phash import phash

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawlers.spiders.listings import ListingSpider

log = logging.getLogger(__name__)

#: Crawler setting: the ``CrawlRun`` id this crawl records into.
RUN_ID_SETTING = "HALLMARK_CRAWL_RUN_ID"


def decode_photo(url: str, data: bytes, settings: Settings, home: Path) -> PhotoResult:
    """Decodes downloaded photo bytes safely and keeps a copy; a refusal becomes an error result."""
    try:
        decoded = decode_image(data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
    except HallmarkError as error:
        return PhotoResult(url=url, error_kind=error_kind(error), error=str(error))
    stored = save_image_bytes(home, decoded, data)
    return PhotoResult(url=url, decoded=decoded, stored_path=stored, phash=to_signed64(phash(decoded.pixels)))


class ListingStorePipeline:
    """Stores listings, sellers and photos; queues new photos for matching; records the run."""

    def __init__(self, crawler: Crawler, settings: Settings, database: Database, run_id: int | None) -> None:
        self.crawler = crawler
        self.settings = settings
        self.database = database
        self.run_id = run_id
        self.home = settings.resolved_home
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ListingStorePipeline:
        settings = get_settings()
        run_id = crawler.settings.getint(RUN_ID_SETTING) or None
        pipeline = cls(crawler, settings, open_database(settings), run_id)
        # After the pipelines closed, with the reason: a crawl stopped early (Ctrl-C, time cap) is partial.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def spider(self) -> ListingSpider:
        spider = self.crawler.spider
        assert spider is not None
        return spider  # type: ignore[return-value]

    def _count(self, key: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"hallmark/{key}", count)

    async def process_item(self, item: Any) -> Any:
        """Stores one listing and, when needed, fetches, decodes and stores its photo."""
        if not isinstance(item, ListingItem):
            return item
        now = utcnow()
        with self.database.session() as session:
            stored = store_listing(session, self.spider.adapter.name, item.listing, now)
        self._count(f"listings_{stored.outcome.value}")
        if stored.fetch_image is None:
            if item.listing.image:
                self._count("images_unchanged")
            return item
        result = await self._fetch_photo(stored.fetch_image)
        with self.database.session() as session:
            image, outcome = store_image(session, stored.listing_id, result, utcnow())
            if outcome is None:
                self._count("images_failed")
                self._count(f"errors/{result.error_kind}")
                log.warning("photo %s refused: %s", result.url, image.error)
            elif outcome is Outcome.UNCHANGED:
                self._count("images_unchanged")
            else:
                self._count(f"images_{outcome.value}")
                enqueue(
                    session,
                    KIND_MATCH_LISTING_IMAGE,
                    {"listing_image_id": image.id, "crawl_run_id": self.run_id},
                )
                self._count("matches_queued")
        return item

    async def _fetch_photo(self, url: str) -> PhotoResult:
        request = Request(
            url,
            meta={
                UNTRUSTED: True,
                # The byte cap is enforced while the body streams in, and by its Content-Length first.
                "download_maxsize": self.settings.max_image_bytes,
                "download_warnsize": 0,
                "hallmark_page": "image",
            },
            headers={"Accept": "image/jpeg,image/png,image/webp;q=0.9,*/*;q=0.1"},
            priority=20,
        )
        engine = self.crawler.engine
        assert engine is not None
        try:
            response: Response = await engine.download_async(request)
        except Exception as error:  # every download failure is recorded on the photo, never raised
            resolver = getattr(self.crawler, "hallmark_resolver", None)
            kind = error_kind(error, url=url, refused_hosts=getattr(resolver, "refused", None))
            return PhotoResult(url=url, error_kind=kind, error=describe(error))
        if response.status != 200:
            return PhotoResult(
                url=url, error_kind=http_kind(response.status), error=f"HTTP {response.status}"
            )
        # Decoding is CPU work: off the reactor thread, so downloads go on meanwhile.
        return await asyncio.to_thread(decode_photo, url, response.body, self.settings, self.home)

    def spider_closed(self, spider: ListingSpider, reason: str) -> None:
        """Marks unseen listings gone (complete crawls only), closes removed takedowns, records stats."""
        if reason != "finished":
            spider.search_complete = False
            spider.search_end_reasons.append(f"the crawl was stopped early ({reason})")
        now = utcnow()
        with self.database.session() as session:
            seen = listing_ids(session, spider.seen_urls)
            gone_ids = listing_ids(session, spider.gone_urls)
            if spider.search_complete and self.run_id is not None:
                earlier = previously_seen(
                    session, spider.adapter.name, spider.base_url or None, spider.query or None, self.run_id
                )
                gone_ids |= earlier - seen
            gone = mark_gone(session, gone_ids, now)
            self._count("listings_gone", len(gone))
            removed = close_removed_cases(session, gone_ids)
            self._count("cases_removed", len(removed))
            if self.run_id is None:
                return
            run = session.get(CrawlRun, self.run_id)
            if run is None:
                return
            assert self.crawler.stats is not None
            stats = collect_stats(self.crawler.stats.get_stats(), time.monotonic() - self.started)
            stats["complete"] = spider.search_complete
            if spider.search_end_reasons:
                stats["partial_reasons"] = spider.search_end_reasons
            stats["seen_listing_ids"] = sorted(seen)
            run.stats = stats
