"""Listing extraction: the real eBay page with and without its adapter, and generic extraction on
small pages of every kind a marketplace serves."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from crawlers.adapter import get_adapter
from crawlers.extract import (
    PageError,
    extract_api_listings,
    extract_listings,
    next_api_offset,
)
from crawlers.prices import parse_price
from crawlers.urls import canonical_url

EBAY_PAGE = Path(__file__).resolve().parents[3] / "shared" / "data" / "pages" / "ebay_de_search.html"
EBAY_URL = "https://www.ebay.de/sch/i.html?_from=R40&_nkw=apple&_sacat=58058"
TEMPLATE_ITEM = "123456"


def _item_id(url: str) -> str | None:
    match = re.search(r"/itm/(\d+)", url)
    return match.group(1) if match else None


@pytest.fixture(scope="module")
def ebay_html() -> str:
    if not EBAY_PAGE.exists():
        pytest.skip("../shared/data is not available")
    return EBAY_PAGE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ebay_item_ids(ebay_html: str) -> set[str]:
    """Every listing the page links to, read independently of the extractor: the item ids in its links."""
    return set(re.findall(r"/itm/(\d+)", ebay_html)) - {TEMPLATE_ITEM}


@pytest.fixture(scope="module")
def listings(ebay_html: str) -> dict[str, object]:
    """The adapter's listings by item id."""
    return {
        _item_id(listing.url) or listing.url: listing for listing in extract_listings(ebay_html, EBAY_URL)
    }


@pytest.fixture(scope="module")
def generic(ebay_html: str) -> list:
    """The listings found with the eBay adapter switched off."""
    return list(extract_listings(ebay_html, EBAY_URL, adapter=None))


class TestEbayWithAdapter:
    def test_finds_exactly_the_64_distinct_listings(
        self, ebay_html: str, ebay_item_ids: set[str], listings: dict[str, object]
    ) -> None:
        assert len(ebay_item_ids) == 64
        assert len(extract_listings(ebay_html, EBAY_URL)) == 64
        assert set(listings) == ebay_item_ids

    def test_skips_the_hidden_template_card(self, listings: dict[str, object]) -> None:
        assert TEMPLATE_ITEM not in listings

    def test_item_urls_are_canonical_without_tracking(self, ebay_html: str) -> None:
        for listing in extract_listings(ebay_html, EBAY_URL):
            assert re.fullmatch(r"https://www\.ebay\.de/itm/\d+", listing.url), listing.url

    def test_every_listing_has_title_price_in_eur_and_an_absolute_image(self, ebay_html: str) -> None:
        for listing in extract_listings(ebay_html, EBAY_URL):
            assert listing.title and listing.price is not None and listing.currency == "EUR"
            assert listing.image and listing.image.startswith("https://i.ebayimg.com/")

    def test_reads_a_listing_exactly(self, ebay_html: str) -> None:
        listing = next(x for x in extract_listings(ebay_html, EBAY_URL) if x.url.endswith("/144278067683"))
        assert (
            listing.title == "3x 2m Ladekabel NYLON für Original iPhone 6 7 8 11 12 X XS XR Pro Max USB Apple"
        )
        assert (listing.price, listing.price_max, listing.currency) == (10.79, None, "EUR")
        assert listing.image == "https://i.ebayimg.com/thumbs/images/g/MMcAAOSwYLBjfqw~/s-l225.webp"

    def test_thousands_separators_are_read_as_such(self, ebay_html: str) -> None:
        listing = next(x for x in extract_listings(ebay_html, EBAY_URL) if x.url.endswith("/402990526723"))
        assert listing.price == 1049.0

    def test_the_hidden_new_listing_badge_is_not_part_of_titles(self, ebay_html: str) -> None:
        listings = extract_listings(ebay_html, EBAY_URL)
        assert not [x.title for x in listings if x.title and x.title.startswith("Neues Angebot")]
        badged = next(x for x in listings if x.url.endswith("/125633387556"))
        assert badged.title == 'Apple MacBook Pro 15" A1398, 16GB/256GB - MJLQ2D/A - OVP - Juni 2015 - Silber'

    def test_price_ranges_give_price_and_price_max(self, ebay_html: str) -> None:
        ranges = {
            _item_id(x.url): (x.price, x.price_max)
            for x in extract_listings(ebay_html, EBAY_URL)
            if x.price_max is not None
        }
        assert ranges == {
            "373649272098": (234.95, 269.95),
            "204135368452": (4.11, 29.50),
            "403989397722": (124.00, 174.00),
        }

    def test_a_listing_in_results_and_carousel_keeps_its_main_results_card(self, ebay_html: str) -> None:
        # The carousel shows 403989397722 at EUR 138,00; the main results show its price range.
        listing = next(x for x in extract_listings(ebay_html, EBAY_URL) if x.url.endswith("/403989397722"))
        assert (listing.price, listing.price_max) == (124.0, 174.0)


class TestEbayWithoutAdapter:
    def test_finds_at_least_80_percent_of_the_listings(self, generic: list, ebay_item_ids: set[str]) -> None:
        found = {_item_id(listing.url) for listing in generic}
        assert len(found & ebay_item_ids) >= 0.8 * len(ebay_item_ids)

    def test_finds_no_junk_and_no_duplicates(self, generic: list, ebay_item_ids: set[str]) -> None:
        ids = [_item_id(listing.url) for listing in generic]
        assert all(item_id in ebay_item_ids for item_id in ids), [x.url for x in generic]
        assert len(ids) == len(set(ids))

    def test_agrees_with_the_adapter_on_titles_and_prices(self, ebay_html: str, generic: list) -> None:
        by_id = {_item_id(x.url): x for x in extract_listings(ebay_html, EBAY_URL)}
        same = [
            x
            for x in generic
            if (ref := by_id.get(_item_id(x.url)))
            and (x.title, x.price, x.price_max, x.currency)
            == (ref.title, ref.price, ref.price_max, ref.currency)
        ]
        assert len(same) >= 0.9 * len(generic)

    def test_reads_images_of_the_listings(self, generic: list) -> None:
        assert sum(1 for x in generic if x.image and x.image.startswith("https://")) >= 0.9 * len(generic)


def _page(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"


class TestGenericStructuredData:
    def test_reads_a_json_ld_item_list_of_products(self) -> None:
        data = {
            "@context": "https://schema.org",
            "@type": "ItemList",
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": n,
                    "item": {
                        "@type": "Product",
                        "name": f"Sneaker {n}",
                        "url": f"/p/{n}?utm_source=feed",
                        "image": {"@type": "ImageObject", "url": f"/img/{n}.jpg"},
                        "offers": {"@type": "Offer", "price": f"{n}9.90", "priceCurrency": "USD"},
                    },
                }
                for n in (1, 2, 3)
            ],
        }
        html = _page("<h1>Results</h1>", f"<script type='application/ld+json'>{json.dumps(data)}</script>")
        listings = extract_listings(html, "https://shop.example/search?q=sneaker", adapter=None)
        assert [x.url for x in listings] == [f"https://shop.example/p/{n}" for n in (1, 2, 3)]
        assert [x.title for x in listings] == ["Sneaker 1", "Sneaker 2", "Sneaker 3"]
        assert listings[1].price == 29.9 and listings[1].currency == "USD"
        assert listings[2].image == "https://shop.example/img/3.jpg"

    def test_reads_an_aggregate_offer_as_a_price_range(self) -> None:
        data = {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": "Handbag",
            "offers": {
                "@type": "AggregateOffer",
                "lowPrice": 19.5,
                "highPrice": "45.00",
                "priceCurrency": "GBP",
            },
        }
        html = _page("<h1>Handbag</h1>", f"<script type='application/ld+json'>{json.dumps(data)}</script>")
        [listing] = extract_listings(html, "https://shop.example/item/9", adapter=None)
        assert (listing.url, listing.price, listing.price_max, listing.currency) == (
            "https://shop.example/item/9",
            19.5,
            45.0,
            "GBP",
        )

    def test_reads_microdata_on_an_item_page_with_seller_quantity_and_date(self) -> None:
        body = """
        <div itemscope itemtype="https://schema.org/Product">
          <h1 itemprop="name">Leather wallet</h1>
          <img itemprop="image" src="/photos/wallet.jpg">
          <div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
            <meta itemprop="priceCurrency" content="EUR"><span itemprop="price" content="12.00">12,00 €</span>
            <meta itemprop="validFrom" content="2025-03-01">
            <div itemprop="inventoryLevel" itemscope itemtype="https://schema.org/QuantitativeValue">
              <meta itemprop="value" content="7"></div>
            <div itemprop="seller" itemscope itemtype="https://schema.org/Organization">
              <span itemprop="name">Wallet World</span></div>
          </div>
        </div>"""
        [listing] = extract_listings(_page(body), "https://shop.example/wallet?ref=home", adapter=None)
        assert listing.url == "https://shop.example/wallet"
        assert (listing.title, listing.price, listing.currency) == ("Leather wallet", 12.0, "EUR")
        assert (listing.seller, listing.quantity, listing.listed_at) == ("Wallet World", 7, date(2025, 3, 1))
        assert listing.image == "https://shop.example/photos/wallet.jpg"

    def test_reads_opengraph_product_tags_on_an_item_page(self) -> None:
        head = """
        <meta property="og:type" content="product"><meta property="og:title" content="Silk scarf">
        <meta property="og:image" content="https://cdn.example/scarf.jpg">
        <meta property="product:price:amount" content="39.00">
        <meta property="product:price:currency" content="EUR">"""
        [listing] = extract_listings(
            _page("<h1>Silk scarf</h1>", head), "https://shop.example/s/1", adapter=None
        )
        assert (listing.title, listing.price, listing.currency, listing.image) == (
            "Silk scarf",
            39.0,
            "EUR",
            "https://cdn.example/scarf.jpg",
        )

    def test_an_article_page_with_opengraph_is_not_a_listing(self) -> None:
        head = '<meta property="og:type" content="article"><meta property="og:title" content="News">'
        assert extract_listings(_page("<p>Text</p>", head), "https://news.example/a", adapter=None) == []

    def test_an_item_page_keeps_its_product_and_ignores_related_item_cards(self) -> None:
        data = {"@context": "https://schema.org", "@type": "Product", "name": "Main watch"}
        related = "".join(
            f"<li class='rel'><a href='/w/{n}'><img src='/w{n}.jpg'><h3>Watch {n}</h3></a><b>€ {n}0</b></li>"
            for n in range(1, 5)
        )
        html = _page(
            f"<h1>Main watch</h1><ul>{related}</ul>",
            f"<script type='application/ld+json'>{json.dumps(data)}</script>",
        )
        listings = extract_listings(html, "https://shop.example/w/main", adapter=None)
        assert [x.title for x in listings] == ["Main watch"]


CARDS = """
<nav><ul>
  <li class="menu"><a href="/women"><img src="/i/w.png"> Women</a></li>
  <li class="menu"><a href="/men"><img src="/i/m.png"> Men</a></li>
  <li class="menu"><a href="/kids"><img src="/i/k.png"> Kids</a></li>
</ul></nav>
<div class="grid">
  <div class="tile tile--ad">
    <a href="/item/101?src=search&amp;pos=1">
      <img data-src="/thumbs/101.jpg" src="/blank.gif" width="1" height="1"></a>
    <a class="tile-name" href="/item/101?src=search&amp;pos=1">
      <span class="badge sr-only">Sponsored</span>Red dress</a>
    <span class="tile-price">US $12.50</span> <del class="tile-was">US $30.00</del>
    <span class="tile-seller">dress_shop</span>
  </div>
  <div class="tile">
    <a href="/item/102?src=search&amp;pos=2"><img srcset="/thumbs/102-s.jpg 200w, /thumbs/102-l.jpg 800w"></a>
    <a class="tile-name" href="/item/102?src=search&amp;pos=2">Blue jeans</a>
    <span class="tile-price">US $20.00 to US $25.00</span>
    <span class="tile-seller">denim.depot</span>
  </div>
  <div class="tile">
    <a href="https://other.example/item/103"><img src="https://cdn.example/103.webp"></a>
    <a class="tile-name" href="https://other.example/item/103">Green coat</a>
    <span class="tile-price">US $99.00</span>
  </div>
</div>
<div class="strip">
  <div class="mini"><a href="/item/102?src=strip"><img src="/thumbs/102-s.jpg"></a><p>US $20.00</p></div>
  <div class="mini"><a href="/item/104?src=strip"><img src="/thumbs/104.jpg"></a><p>US $5.00</p></div>
</div>
"""


@pytest.fixture(scope="module")
def cards() -> list:
    return list(extract_listings(_page(CARDS), "https://market.example/search?q=clothes", adapter=None))


class TestGenericCards:
    def test_finds_each_card_once_and_no_menu_entries(self, cards: list) -> None:
        assert [x.url for x in cards] == [
            "https://market.example/item/101",
            "https://market.example/item/102",
            "https://other.example/item/103",
            "https://market.example/item/104",
        ]

    def test_reads_titles_without_screen_reader_badges(self, cards: list) -> None:
        assert [x.title for x in cards[:3]] == ["Red dress", "Blue jeans", "Green coat"]

    def test_reads_lazy_loaded_and_srcset_images_as_absolute_urls(self, cards: list) -> None:
        assert cards[0].image == "https://market.example/thumbs/101.jpg"
        assert cards[1].image == "https://market.example/thumbs/102-l.jpg"
        assert cards[2].image == "https://cdn.example/103.webp"

    def test_reads_the_current_price_not_the_struck_one(self, cards: list) -> None:
        assert (cards[0].price, cards[0].currency) == (12.5, "USD")

    def test_reads_a_price_range(self, cards: list) -> None:
        assert (cards[1].price, cards[1].price_max) == (20.0, 25.0)

    def test_reads_the_seller_named_on_the_card(self, cards: list) -> None:
        assert [x.seller for x in cards[:3]] == ["dress_shop", "denim.depot", None]

    def test_keeps_the_query_when_it_is_what_tells_listings_apart(self) -> None:
        rows = "".join(
            f"<li class='r'><a href='/view.php?id={n}&amp;sid=abc'><img src='/{n}.jpg'><h2>Lamp {n}</h2></a>"
            f"<span>{n}5,00 €</span></li>"
            for n in (1, 2, 3)
        )
        listings = extract_listings(_page(f"<ul>{rows}</ul>"), "https://lamps.example/s", adapter=None)
        assert [x.url for x in listings] == [
            f"https://lamps.example/view.php?id={n}&sid=abc" for n in (1, 2, 3)
        ]
        assert [x.price for x in listings] == [15.0, 25.0, 35.0]

    def test_a_page_without_listings_gives_none(self) -> None:
        assert extract_listings(_page("<p>Nothing here</p>"), "https://shop.example/", adapter=None) == []


class TestAdapterChoice:
    def test_an_adapter_that_finds_nothing_falls_back_to_generic_extraction(self) -> None:
        listings = extract_listings(
            _page(CARDS), "https://market.example/search", adapter=get_adapter("ebay")
        )
        assert len(listings) == 4

    def test_auto_uses_generic_extraction_for_an_unknown_site(self) -> None:
        assert len(extract_listings(_page(CARDS), "https://market.example/search")) == 4


class TestBadInput:
    def test_binary_bytes_are_refused(self) -> None:
        with pytest.raises(PageError, match="binary"):
            extract_listings(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "https://shop.example/")

    def test_plain_text_is_refused(self) -> None:
        with pytest.raises(PageError, match="HTML"):
            extract_listings("just some words, 12 EUR", "https://shop.example/")

    @pytest.mark.parametrize("url", ["shop.example/search", "ftp://shop.example/", "/search", ""])
    def test_a_page_url_that_is_not_absolute_http_is_refused(self, url: str) -> None:
        with pytest.raises(PageError, match="absolute"):
            extract_listings(_page(CARDS), url)


class TestApiListings:
    PAYLOAD = {
        "items": [
            {
                "id": "A1",
                "url": "/ssr/item/A1?utm_medium=app",
                "title": " Oat  drink ",
                "price": {"amount": 1.5, "currency": "EUR"},
                "image": "/images/A1.jpg",
                "seller": {"name": "dairy-direct"},
                "quantity": 4,
                "listed_at": "2025-02-03T10:00:00+00:00",
            },
            {
                "id": "A2",
                "url": "/ssr/item/A2",
                "title": "Juice",
                "price": {"amount": "2,25", "currency": "EUR"},
            },
            {"id": "A3", "title": "no url, skipped"},
        ],
        "next_offset": 24,
    }

    def test_reads_items_through_the_adapters_json_paths(self) -> None:
        adapter = get_adapter("demo-app-api")
        listings = extract_api_listings(self.PAYLOAD, "http://127.0.0.1:9000/api/listings?offset=0", adapter)
        assert [x.url for x in listings] == [
            "http://127.0.0.1:9000/ssr/item/A1",
            "http://127.0.0.1:9000/ssr/item/A2",
        ]
        first, second = listings
        assert (first.title, first.price, first.currency, first.seller, first.quantity) == (
            "Oat drink",
            1.5,
            "EUR",
            "dairy-direct",
            4,
        )
        assert first.image == "http://127.0.0.1:9000/images/A1.jpg"
        assert first.listed_at is not None and first.listed_at.isoformat() == "2025-02-03T10:00:00+00:00"
        assert second.price == 2.25

    def test_next_offset_comes_from_the_response_and_ends_at_null(self) -> None:
        adapter = get_adapter("demo-app-api")
        assert next_api_offset(self.PAYLOAD, adapter, 0) == 24
        assert next_api_offset({**self.PAYLOAD, "next_offset": None}, adapter, 24) is None


class TestPrices:
    @pytest.mark.parametrize(
        ("text", "hints", "expected"),
        [
            ("EUR 1.049,00", {}, (1049.0, None, "EUR")),
            ("12,50 €", {}, (12.5, None, "EUR")),
            ("£7.99", {}, (7.99, None, "GBP")),
            ("US $1,299.99", {}, (1299.99, None, "USD")),
            ("EUR 234,95 bis EUR 269,95", {}, (234.95, 269.95, "EUR")),
            ("$20.00 to $25.00", {}, (20.0, 25.0, "USD")),
            ("$15", {"default_currency": "AUD"}, (15.0, None, "AUD")),
            ("1.234", {"decimal_separator": ",", "default_currency": "EUR"}, (1234.0, None, "EUR")),
            ("Price on request", {}, (None, None, None)),
        ],
    )
    def test_parses_amounts_ranges_and_iso_currencies(self, text: str, hints: dict, expected: tuple) -> None:
        price = parse_price(text, **hints)
        assert (price.amount, price.maximum, price.currency) == expected


class TestUrls:
    def test_canonical_urls_drop_fragments_and_tracking_and_sort_the_query(self) -> None:
        url = "https://Shop.Example/p?b=2&utm_source=x&a=1&gclid=9#reviews"
        assert canonical_url(url) == "https://shop.example/p?a=1&b=2"

    def test_keep_query_keeps_only_the_named_parameters(self) -> None:
        assert (
            canonical_url("https://shop.example/v?id=7&sid=x", keep_query=["id"])
            == "https://shop.example/v?id=7"
        )
