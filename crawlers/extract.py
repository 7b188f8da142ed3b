"""Listings from a marketplace page: with the site's adapter when one applies, by structure otherwise.

``extract_listings`` is the one entry point for HTML (what ``hallmark extract`` and the spiders call);
``extract_api_listings`` reads the JSON a JavaScript storefront loads, as its adapter describes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

import lxml.html
from lxml.etree import ParserError
from lxml.html import HtmlElement
from parsel import Selector

from crawlers.adapter import Adapter, CardFields, ItemFields, match_adapter
from crawlers.heuristic import heuristic_listings
from crawlers.listing import ExtractedListing, clean_text, parse_listed_at, parse_quantity
from crawlers.prices import currency_code, parse_price
from crawlers.selectors import read_field
from crawlers.structured import canonical_link, structured_listings
from crawlers.urls import absolute_url, canonical_url
from hallmark.errors import HallmarkError

log = logging.getLogger(__name__)

__all__ = [
    "ExtractedListing",
    "PageError",
    "adapter_listings",
    "extract_api_listings",
    "extract_listings",
    "generic_listings",
    "json_path",
    "next_api_offset",
    "parse_page",
]

_MARKUP = re.compile(
    r"<\s*(?:!doctype|html|head|body|div|span|p|a|ul|ol|li|table|img|section|article|main)\b", re.I
)


class PageError(HallmarkError):
    """A page cannot be read: not HTML, or its URL is not an absolute http(s) URL."""

    http_status = 422


def check_page_url(page_url: str) -> str:
    """``page_url`` when it is an absolute http(s) URL with a host.

    Raises:
        PageError: it is not.
    """
    parts = urlsplit(page_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PageError(f"page URL must be an absolute http(s) URL, got {page_url!r}")
    return page_url


def parse_page(html: str | bytes) -> HtmlElement:
    """The parsed document.

    Raises:
        PageError: the bytes are not HTML (binary data, plain text, an empty file).
    """
    if isinstance(html, bytes):
        if b"\x00" in html[:4096]:
            raise PageError("the file is binary, not HTML")
        html = html.decode("utf-8", errors="replace")
    if "\x00" in html[:4096] or not _MARKUP.search(html[:200_000]):
        raise PageError("the file does not look like HTML (no HTML tags found)")
    try:
        return lxml.html.document_fromstring(html)
    except (ParserError, ValueError) as error:
        raise PageError(f"the HTML cannot be parsed: {error}") from error


def _dedupe(listings: Iterable[ExtractedListing]) -> list[ExtractedListing]:
    """One listing per URL, in first-seen order; later sightings fill the fields the first lacked."""
    merged: dict[str, ExtractedListing] = {}
    for listing in listings:
        seen = merged.get(listing.url)
        merged[listing.url] = listing if seen is None else seen.merged(listing)
    return list(merged.values())


def _listing_from_fields(
    node: Selector,
    fields: CardFields | ItemFields,
    page_url: str,
    adapter: Adapter,
    url: str | None,
) -> ExtractedListing | None:
    if url is None:
        return None
    hints = adapter.price
    marker = read_field(node, fields.currency)
    default = currency_code(marker, hints.currency) if marker else hints.currency
    price = parse_price(
        read_field(node, fields.price), default_currency=default, decimal_separator=hints.decimal_separator
    )
    return ExtractedListing(
        url=canonical_url(url, adapter.urls.keep_query),
        title=clean_text(read_field(node, fields.title)),
        price=price.amount,
        price_max=price.maximum,
        currency=price.currency if price.amount is not None else None,
        image=absolute_url(read_field(node, fields.image), page_url),
        seller=read_field(node, fields.seller),
        quantity=parse_quantity(read_field(node, fields.quantity)),
        listed_at=parse_listed_at(read_field(node, fields.listed_at)),
    )


def adapter_listings(tree: HtmlElement, page_url: str, adapter: Adapter) -> list[ExtractedListing]:
    """Listings read with ``adapter``'s selectors: its cards on a search page, or its item page fields."""
    page = Selector(root=tree, type="html")
    item = adapter.item
    path = urlsplit(page_url).path
    is_item_page = bool(item and item.url_pattern and re.search(item.url_pattern, path))
    listings: list[ExtractedListing] = []
    if adapter.search is not None and not is_item_page:
        fields = adapter.search.fields
        for card_selector in adapter.search.cards:
            for card in card_selector.select(page):
                url = absolute_url(read_field(card, fields.url), page_url)
                listing = _listing_from_fields(card, fields, page_url, adapter, url)
                if listing is not None:
                    listings.append(listing)
    if not listings and item is not None and (is_item_page or item.url_pattern is None):
        own = absolute_url(read_field(page, item.fields.url), page_url) or canonical_link(tree, page_url)
        listing = _listing_from_fields(page, item.fields, page_url, adapter, own)
        if listing is not None and item.structured:
            declared = structured_listings(tree, page_url)
            same = [d for d in declared if d.url == listing.url] or declared[:1]
            if same:
                listing = listing.merged(same[0].model_copy(update={"url": listing.url}))
        if listing is not None and (listing.title or listing.price is not None):
            listings.append(listing)
    return _dedupe(listings)


def generic_listings(tree: HtmlElement, page_url: str) -> list[ExtractedListing]:
    """Listings found without an adapter.

    What the page declares (schema.org, OpenGraph) wins: a Product on an item page is that page's
    listing, and the "similar items" around it are not. Only pages that declare nothing are read by
    their repeated cards; cards still fill fields the declared listings leave empty.
    """
    cards = heuristic_listings(tree, page_url)
    declared = structured_listings(tree, page_url)
    if declared:
        by_url = {listing.url: listing for listing in reversed(cards)}
        return _dedupe(
            listing.merged(by_url[listing.url]) if listing.url in by_url else listing for listing in declared
        )
    return _dedupe(cards)


def extract_listings(
    html: str | bytes,
    page_url: str,
    *,
    adapter: Adapter | Literal["auto"] | None = "auto",
    adapters: dict[str, Adapter] | None = None,
) -> list[ExtractedListing]:
    """The listings on one marketplace page, one per listing URL, in page order.

    Args:
        html: the page as served (or rendered, for browser adapters).
        page_url: the URL the page was fetched from; relative links resolve against it.
        adapter: the site adapter to use; ``"auto"`` picks the most specific one whose hosts and paths
            match ``page_url``; ``None`` forces generic extraction. When an adapter finds nothing
            (the site changed its markup) generic extraction runs instead, so a crawl degrades
            rather than going blind.
        adapters: the adapters ``"auto"`` chooses from; the built-in ones by default.

    Raises:
        PageError: ``html`` is not HTML or ``page_url`` is not an absolute http(s) URL.
    """
    check_page_url(page_url)
    tree = parse_page(html)
    chosen = match_adapter(page_url, adapters) if adapter == "auto" else adapter
    if chosen is not None:
        listings = adapter_listings(tree, page_url, chosen)
        if listings:
            return listings
        log.warning(
            "adapter %r found no listings on %s; falling back to generic extraction", chosen.name, page_url
        )
    return generic_listings(tree, page_url)


def json_path(data: Any, path: str | None) -> Any:
    """The value at a dotted path (``"price.amount"``, ``"images.0.url"``); ``None`` where it is missing."""
    if path is None:
        return None
    for key in path.split("."):
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and key.lstrip("-").isdigit() and -len(data) <= int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data


def _scalar(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def extract_api_listings(payload: Any, page_url: str, adapter: Adapter) -> list[ExtractedListing]:
    """Listings in one JSON response of a storefront's API, read as ``adapter``'s ``[api]`` describes.

    Args:
        payload: the decoded JSON.
        page_url: the API URL it came from; relative item and image URLs resolve against it.
        adapter: an adapter with an ``[api]`` section.
    """
    if adapter.api is None:
        raise PageError(f"adapter {adapter.name!r} describes no JSON API")
    check_page_url(page_url)
    fields = adapter.api.fields
    items = json_path(payload, adapter.api.items)
    listings: list[ExtractedListing] = []
    for item in items if isinstance(items, list) else []:
        url = absolute_url(_scalar(json_path(item, fields.url)), page_url)
        if url is None:
            continue
        marker = _scalar(json_path(item, fields.currency))
        currency = currency_code(marker, adapter.price.currency)
        raw = json_path(item, fields.price)
        price = parse_price(
            raw if isinstance(raw, int | float) else _scalar(raw),
            default_currency=currency,
            decimal_separator=adapter.price.decimal_separator,
        )
        high = json_path(item, fields.price_max)
        listings.append(
            ExtractedListing(
                url=canonical_url(url, adapter.urls.keep_query),
                title=clean_text(_scalar(json_path(item, fields.title))),
                price=price.amount,
                price_max=float(high) if isinstance(high, int | float) else None,
                currency=price.currency if price.amount is not None else None,
                image=absolute_url(_scalar(json_path(item, fields.image)), page_url),
                seller=clean_text(_scalar(json_path(item, fields.seller))),
                quantity=parse_quantity(_scalar(json_path(item, fields.quantity))),
                listed_at=parse_listed_at(_scalar(json_path(item, fields.listed_at))),
            )
        )
    return _dedupe(listings)


def next_api_offset(payload: Any, adapter: Adapter, offset: int) -> int | None:
    """The offset of the next API page, or ``None`` at the end.

    The response's own next offset when the adapter names one; otherwise the next page while this one
    was full.
    """
    if adapter.api is None:
        raise PageError(f"adapter {adapter.name!r} describes no JSON API")
    if adapter.api.next_offset is not None:
        value = json_path(payload, adapter.api.next_offset)
        return int(value) if isinstance(value, int | float) and value > offset else None
    items = json_path(payload, adapter.api.items)
    size = len(items) if isinstance(items, list) else 0
    return offset + size if size >= adapter.api.page_size else None
