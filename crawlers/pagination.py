"""Following a search's result pages, as the adapter describes, up to its bound."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from parsel import Selector

from crawlers.adapter import Adapter
from crawlers.selectors import read_field
from crawlers.urls import absolute_url


def next_page_url(html: str, page_url: str, adapter: Adapter, *, pages_seen: int) -> str | None:
    """The URL of the results page after ``page_url``, or ``None`` when the search ends here.

    Args:
        html: the current results page.
        page_url: its URL.
        adapter: the site's adapter (its ``[search.pagination]``).
        pages_seen: how many results pages this search has fetched, this one included.

    The search ends at ``max_pages``, on a page without listing cards, or when the page has no next
    link and the adapter names no page parameter.
    """
    search = adapter.search
    if search is None or pages_seen >= search.pagination.max_pages:
        return None
    page = Selector(text=html, type="html")
    if not any(selector.select(page) for selector in search.cards):
        return None
    pagination = search.pagination
    if pagination.next:
        href = read_field(page, pagination.next)
        return absolute_url(href, page_url) if href else None
    if pagination.page_param is None:
        return None
    parts = urlsplit(page_url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    try:
        current = int(query.get(pagination.page_param, pagination.first_page))
    except ValueError:
        current = pagination.first_page
    query[pagination.page_param] = str(current + 1)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
