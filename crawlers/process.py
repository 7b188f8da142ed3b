"""Running one crawl inside this process: Scrapy's settings from Hallmark's, then the reactor.

Twisted's reactor starts once per process, so this runs in a child process per crawl
(``python -m crawlers.run``, started by :mod:`crawlers.jobs`); the scheduler and the tests run as many
crawls as they like that way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings as ScrapySettings

from crawlers.adapter import get_adapter
from crawlers.guard import ALLOW_PRIVATE_SETTING, TRUSTED_HOSTS_SETTING, BrowserRequestFilter, host_of
from crawlers.job import CrawlJob
from crawlers.pipelines import RUN_ID_SETTING
from crawlers.spiders.listings import ListingSpider
from hallmark import __version__
from hallmark.settings import Settings

#: Chromium flags for a crawler: no sandbox (containers run as root), no GPU, no background chatter.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def user_agent(settings: Settings) -> str:
    """An honest User-Agent: who we are and where to reach whoever runs this crawler."""
    return f"Hallmark/{__version__} counterfeit-monitoring crawler (+{settings.crawl_contact_url})"


def browser_launch_options(settings: Settings) -> dict[str, Any]:
    """Playwright launch options: the configured Chromium when it exists, Playwright's own otherwise."""
    options: dict[str, Any] = {"headless": True, "args": list(CHROMIUM_ARGS)}
    chromium = settings.crawl_chromium_path
    if chromium is not None and Path(chromium).exists():
        options["executable_path"] = str(chromium)
    return options


def scrapy_settings(settings: Settings, job: CrawlJob, run_id: int | None) -> ScrapySettings:
    """Scrapy's settings for one crawl: ``crawlers/settings.py`` with Hallmark's settings applied."""
    adapter = get_adapter(job.adapter)
    base_url = job.base_url or adapter.base_url or ""
    scrapy = ScrapySettings()
    scrapy.setmodule("crawlers.settings", priority="project")
    delay = settings.crawl_download_delay
    scrapy.setdict(
        {
            "USER_AGENT": user_agent(settings),
            "DOWNLOAD_DELAY": delay,
            # AutoThrottle starts at the configured delay and never goes below it.
            "AUTOTHROTTLE_START_DELAY": delay,
            "AUTOTHROTTLE_MAX_DELAY": max(delay, settings.crawl_autothrottle_max_delay),
            "DOWNLOAD_TIMEOUT": settings.crawl_download_timeout,
            "DOWNLOAD_MAXSIZE": settings.crawl_max_page_bytes,
            "RETRY_TIMES": settings.crawl_retry_times,
            "HALLMARK_RETRY_BASE_DELAY": settings.crawl_retry_base_delay,
            "HALLMARK_RETRY_MAX_DELAY": settings.crawl_retry_max_delay,
            "CLOSESPIDER_TIMEOUT": settings.crawl_max_seconds,
            ALLOW_PRIVATE_SETTING: settings.allow_private_networks,
            TRUSTED_HOSTS_SETTING: [host_of(base_url)] if base_url else [],
            RUN_ID_SETTING: run_id or 0,
        },
        priority="cmdline",
    )
    if adapter.needs_browser:
        handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
        scrapy.setdict(
            {
                "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
                "PLAYWRIGHT_LAUNCH_OPTIONS": browser_launch_options(settings),
                "PLAYWRIGHT_ABORT_REQUEST": BrowserRequestFilter([host_of(base_url)]),
                "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": settings.crawl_download_timeout * 1000 * 2,
            },
            priority="cmdline",
        )
    return scrapy


def crawl_in_this_process(settings: Settings, job: CrawlJob, run_id: int | None) -> None:
    """Runs the crawl to its end; blocks. Call at most once per process (the reactor's rule)."""
    process = CrawlerProcess(scrapy_settings(settings, job, run_id), install_root_handler=True)
    process.crawl(
        ListingSpider,
        adapter=job.adapter,
        base_url=job.base_url,
        query=job.query or "",
        max_pages=job.max_pages,
    )
    process.start()
