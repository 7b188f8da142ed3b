"""The listing spider's callbacks, fed saved responses of the demo market (offline, no reactor)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawlers.demo_market import create_app
from crawlers.items import ListingItem
from crawlers.spiders.listings import ListingSpider

BASE = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def market() -> Iterator[TestClient]:
    with TestClient(create_app(page_size=24), base_url=BASE) as client:
        yield client


def spider(adapter: str, **kwargs: object) -> ListingSpider:
    crawler = get_crawler(ListingSpider)
    made = ListingSpider.from_crawler(crawler, adapter=adapter, base_url=BASE, **kwargs)
    crawler.spider = made
    assert crawler.stats is not None
    crawler.stats.open_spider()
    return made


def saved(market: TestClient, path: str, cls: type[TextResponse] = HtmlResponse) -> TextResponse:
    page = market.get(path)
    return cls(url=BASE + path, body=page.content, status=page.status_code, encoding="utf-8")


def test_a_search_page_yields_an_item_page_request_per_card_and_the_next_page(market: TestClient) -> None:
    crawl = spider("demo-ssr")
    out = list(crawl.parse_search(saved(market, "/ssr/search?q=&page=1"), pages_seen=1))
    items = [
        request for request in out if isinstance(request, Request) and request.callback == crawl.parse_item
    ]
    pages = [
        request for request in out if isinstance(request, Request) and request.callback == crawl.parse_search
    ]
    assert len(items) == 24 and len(crawl.seen_urls) == 24
    assert [request.url for request in pages] == [f"{BASE}/ssr/search?q=&page=2"]
    assert crawl.search_complete


def test_a_search_cut_short_by_the_page_bound_is_partial(market: TestClient) -> None:
    crawl = spider("demo-ssr", max_pages=1)
    out = list(crawl.parse_search(saved(market, "/ssr/search?q=&page=1"), pages_seen=1))
    assert not any(isinstance(request, Request) and request.callback == crawl.parse_search for request in out)
    assert not crawl.search_complete


def test_the_last_search_page_ends_a_complete_search(market: TestClient) -> None:
    crawl = spider("demo-ssr")
    out = list(crawl.parse_search(saved(market, "/ssr/search?q=&page=5"), pages_seen=5))
    assert not any(isinstance(request, Request) and request.callback == crawl.parse_search for request in out)
    assert crawl.search_complete


def test_an_item_page_gives_its_listing_filled_from_the_card(market: TestClient) -> None:
    crawl = spider("demo-ssr")
    [card_request, *_] = crawl.parse_search(saved(market, "/ssr/search?q=&page=1"), pages_seen=1)
    assert isinstance(card_request, Request)
    card = card_request.cb_kwargs["card"]
    path = card.url.removeprefix(BASE)
    [item] = crawl.parse_item(saved(market, path), card=card)
    assert isinstance(item, ListingItem)
    assert item.listing.url == card.url and item.listing.title == card.title
    assert item.listing.image and item.listing.seller and item.listing.quantity is not None


def test_an_api_page_yields_its_listings_and_the_next_offset(market: TestClient) -> None:
    crawl = spider("demo-app-api")
    out = list(crawl.parse_api(saved(market, "/api/listings?q=&offset=0&limit=24", TextResponse), 0, 1))
    follow = [
        request for request in out if isinstance(request, Request) and request.callback == crawl.parse_api
    ]
    assert len(crawl.seen_urls) == 24
    assert len(follow) == 1 and "offset=24" in follow[0].url


def test_an_item_page_answering_410_marks_its_listing_gone(market: TestClient) -> None:
    crawl = spider("demo-ssr")
    [card_request, *_] = crawl.parse_search(saved(market, "/ssr/search?q=&page=1"), pages_seen=1)
    assert isinstance(card_request, Request)
    response = HtmlResponse(url=card_request.url, status=410, body=b"gone", request=card_request)
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = card_request  # type: ignore[attr-defined]
    crawl.item_failed(failure)
    assert crawl.gone_urls == {card_request.cb_kwargs["card"].url}
    assert crawl.crawler.stats is not None
    assert crawl.crawler.stats.get_value("hallmark/errors/http_410") == 1
