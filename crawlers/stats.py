"""A crawl's statistics, as recorded in ``CrawlRun.stats`` and printed by ``hallmark crawl run``."""

from __future__ import annotations

from typing import Any

#: Counters every run reports, zero when nothing happened, in the order they are printed.
COUNTERS = (
    "pages",
    "item_pages",
    "listings_new",
    "listings_changed",
    "listings_unchanged",
    "listings_gone",
    "images_new",
    "images_changed",
    "images_unchanged",
    "images_failed",
    "matches_queued",
    "matches",
    "flagged",
    "cases_opened",
    "cases_removed",
    "robots_refused",
    "retries",
)
#: Keys kept in the database for the crawler's own use, not shown to operators.
INTERNAL_KEYS = frozenset({"seen_listing_ids"})


def collect_stats(scrapy_stats: dict[str, Any], duration_seconds: float) -> dict[str, Any]:
    """Our counters out of Scrapy's stats collector (``hallmark/...`` keys and Scrapy's own)."""
    stats: dict[str, Any] = {name: int(scrapy_stats.get(f"hallmark/{name}", 0)) for name in COUNTERS}
    stats["retries"] = int(scrapy_stats.get("retry/count", 0))
    # Scrapy counts robots refusals of every request (photos and robots-refused pages alike).
    stats["robots_refused"] = max(stats["robots_refused"], int(scrapy_stats.get("robotstxt/forbidden", 0)))
    errors = {
        key.removeprefix("hallmark/errors/"): int(value)
        for key, value in scrapy_stats.items()
        if key.startswith("hallmark/errors/")
    }
    stats["errors"] = dict(sorted(errors.items()))
    stats["requests"] = int(scrapy_stats.get("downloader/request_count", 0))
    stats["duration_seconds"] = round(duration_seconds, 2)
    return stats


def public_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """``stats`` without the crawler's internal bookkeeping."""
    return {key: value for key, value in stats.items() if key not in INTERNAL_KEYS}


def format_stats(stats: dict[str, Any]) -> list[str]:
    """Operator-readable lines: one per counter group, then errors by kind."""
    get = stats.get
    lines = [
        f"pages: {get('pages', 0)} (item pages {get('item_pages', 0)}), requests {get('requests', 0)}, "
        f"retries {get('retries', 0)}, robots.txt refused {get('robots_refused', 0)}",
        f"listings: {get('listings_new', 0)} new, {get('listings_changed', 0)} changed, "
        f"{get('listings_unchanged', 0)} unchanged, {get('listings_gone', 0)} gone",
        f"images: {get('images_new', 0)} new, {get('images_changed', 0)} changed, "
        f"{get('images_unchanged', 0)} unchanged, {get('images_failed', 0)} failed",
        f"matches: {get('matches', 0)} stored, {get('flagged', 0)} flagged; cases: "
        f"{get('cases_opened', 0)} opened, {get('cases_removed', 0)} removed",
    ]
    errors = get("errors") or {}
    lines.append(
        "errors: " + (", ".join(f"{kind} {count}" for kind, count in errors.items()) if errors else "none")
    )
    complete = "complete" if get("complete") else "partial (" + "; ".join(get("partial_reasons") or []) + ")"
    lines.append(f"crawl: {complete}, {get('duration_seconds', 0)} s")
    return lines
