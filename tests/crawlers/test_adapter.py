"""Site adapters: loading, validation, matching pages to adapters, URL templates and pagination."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.adapter import (
    AdapterError,
    builtin_adapters,
    get_adapter,
    load_adapter,
    load_adapters,
    match_adapter,
)
from crawlers.pagination import next_page_url
from hallmark.errors import NotFoundError

EBAY_PAGE = Path(__file__).resolve().parents[3] / "shared" / "data" / "pages" / "ebay_de_search.html"

MINIMAL = """
name = "{name}"
hosts = ["shop.example"]

[search]
url = "{{base_url}}/search?q={{query}}&p={{page}}"
cards = ".card"

[search.fields]
url = {{ css = "a", attr = "href" }}
title = "h2"
"""


def _write(directory: Path, text: str, name: str = "shop.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


class TestLoading:
    def test_builtin_adapters_cover_ebay_and_both_demo_storefronts(self) -> None:
        adapters = builtin_adapters()
        assert {"ebay", "demo-ssr", "demo-app", "demo-app-api"} <= set(adapters)
        assert adapters["demo-app"].needs_browser
        assert adapters["demo-app-api"].api is not None

    def test_a_minimal_file_is_a_whole_adapter(self, tmp_path: Path) -> None:
        adapter = load_adapter(_write(tmp_path, MINIMAL.format(name="shop")))
        assert adapter.name == "shop"
        assert adapter.search is not None
        assert adapter.search.fields.title[0].css == "h2"
        assert adapter.search.pagination.max_pages >= 1

    def test_an_unknown_key_is_refused_naming_the_file_and_key(self, tmp_path: Path) -> None:
        path = _write(tmp_path, MINIMAL.format(name="shop").replace('title = "h2"', 'titel = "h2"'))
        with pytest.raises(AdapterError, match=r"shop\.toml.*(titel|title)"):
            load_adapter(path)

    def test_a_selector_that_does_not_compile_is_refused(self, tmp_path: Path) -> None:
        path = _write(tmp_path, MINIMAL.format(name="shop").replace('title = "h2"', 'title = "h2[["'))
        with pytest.raises(AdapterError, match="does not compile"):
            load_adapter(path)

    def test_a_bad_xpath_is_refused(self, tmp_path: Path) -> None:
        text = MINIMAL.format(name="shop").replace('title = "h2"', 'title = { xpath = "//h2[" }')
        with pytest.raises(AdapterError, match="does not compile"):
            load_adapter(_write(tmp_path, text))

    def test_a_file_that_is_not_toml_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(AdapterError, match="not valid TOML"):
            load_adapter(_write(tmp_path, "name = [unclosed"))

    def test_an_unknown_url_placeholder_is_refused(self, tmp_path: Path) -> None:
        text = (
            MINIMAL.format(name="shop").replace("{{query}}", "{{keywords}}").replace("{query}", "{keywords}")
        )
        with pytest.raises(AdapterError, match="keywords"):
            load_adapter(_write(tmp_path, text))

    def test_a_later_directory_overrides_an_adapter_of_the_same_name(self, tmp_path: Path) -> None:
        first, second = tmp_path / "a", tmp_path / "b"
        first.mkdir()
        second.mkdir()
        _write(first, MINIMAL.format(name="shop"))
        _write(second, MINIMAL.format(name="shop").replace("shop.example", "other.example"))
        assert load_adapters(first, second)["shop"].hosts == ("other.example",)

    def test_an_unknown_adapter_name_is_not_found_and_lists_the_known_ones(self) -> None:
        with pytest.raises(NotFoundError, match="ebay"):
            get_adapter("no-such-market")


class TestMatching:
    def test_an_ebay_de_page_gets_the_ebay_adapter(self) -> None:
        adapter = match_adapter("https://www.ebay.de/sch/i.html?_nkw=apple")
        assert adapter is not None and adapter.name == "ebay"

    def test_demo_storefronts_match_on_any_host_and_port_by_path(self) -> None:
        ssr = match_adapter("http://127.0.0.1:40123/ssr/search?q=milk")
        app = match_adapter("http://demo.internal:8080/app/")
        assert ssr is not None and ssr.name == "demo-ssr"
        assert app is not None and app.name == "demo-app"

    def test_an_unknown_marketplace_gets_no_adapter(self) -> None:
        assert match_adapter("https://shop.example.org/search?q=shoes") is None

    def test_an_exact_host_beats_a_wildcard_adapter(self, tmp_path: Path) -> None:
        _write(tmp_path, MINIMAL.format(name="exact"), "exact.toml")
        _write(tmp_path, MINIMAL.format(name="any").replace('["shop.example"]', '["*"]'), "any.toml")
        adapters = load_adapters(tmp_path)
        chosen = match_adapter("https://shop.example/search", adapters)
        assert chosen is not None and chosen.name == "exact"
        fallback = match_adapter("https://elsewhere.example/search", adapters)
        assert fallback is not None and fallback.name == "any"


class TestUrls:
    def test_search_url_fills_base_url_query_and_page(self) -> None:
        adapter = get_adapter("demo-ssr")
        url = adapter.search_url("http://127.0.0.1:9000/", "oat milk & more", page=3)
        assert url == "http://127.0.0.1:9000/ssr/search?q=oat+milk+%26+more&page=3"

    def test_search_url_starts_at_the_first_page_and_uses_the_default_base(self) -> None:
        assert (
            get_adapter("ebay").search_url(None, "apple")
            == "https://www.ebay.de/sch/i.html?_nkw=apple&_pgn=1"
        )

    def test_api_url_carries_offset_and_page_size(self) -> None:
        adapter = get_adapter("demo-app-api")
        url = adapter.api_url("http://127.0.0.1:9000", "milk", offset=48)
        assert url == "http://127.0.0.1:9000/api/listings?q=milk&offset=48&limit=24"


@pytest.fixture(scope="module")
def ebay_html() -> str:
    if not EBAY_PAGE.exists():
        pytest.skip("../shared/data is not available")
    return EBAY_PAGE.read_text(encoding="utf-8")


class TestPagination:
    def test_the_next_link_is_followed(self, ebay_html: str) -> None:
        url = "https://www.ebay.de/sch/i.html?_from=R40&_nkw=apple&_sacat=58058"
        following = next_page_url(ebay_html, url, get_adapter("ebay"), pages_seen=1)
        assert following is not None and following.startswith("https://www.ebay.de/sch/i.html?")
        assert "_pgn=2" in following

    def test_the_search_stops_at_max_pages(self, ebay_html: str) -> None:
        adapter = get_adapter("ebay")
        assert adapter.search is not None
        bound = adapter.search.pagination.max_pages
        assert next_page_url(ebay_html, "https://www.ebay.de/sch/i.html", adapter, pages_seen=bound) is None

    def test_a_page_without_cards_ends_the_search(self) -> None:
        html = "<html><body><p>No results</p><a rel='next' href='?page=2'>next</a></body></html>"
        url = "http://127.0.0.1:9000/ssr/search?q=zzz&page=1"
        assert next_page_url(html, url, get_adapter("demo-ssr"), pages_seen=1) is None

    def test_the_page_parameter_counts_up_when_there_is_no_next_link(self, tmp_path: Path) -> None:
        text = MINIMAL.format(name="shop") + '\n[search.pagination]\npage_param = "p"\n'
        adapter = load_adapter(_write(tmp_path, text))
        html = "<html><body><div class='card'><a href='/i/1'><h2>One</h2></a></div></body></html>"
        following = next_page_url(html, "https://shop.example/search?q=x&p=4", adapter, pages_seen=1)
        assert following == "https://shop.example/search?q=x&p=5"
