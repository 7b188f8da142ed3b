"""The demo marketplace, served by uvicorn on loopback and fetched over HTTP as a crawler would."""

from __future__ import annotations

import io
import json
import math
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.robotparser import RobotFileParser

import httpx
import pytest
import uvicorn
from PIL import Image

from crawlers.adapter import get_adapter
from crawlers.demo_market import create_app
from crawlers.demo_market.data import DEFAULT_DATA_DIR
from crawlers.extract import extract_api_listings, extract_listings, next_api_offset
from crawlers.pagination import next_page_url

SLOW_SECONDS = 0.6
FAIL_FIRST = 2
PAGE_SIZE = 24


@pytest.fixture(scope="module")
def market_data() -> list[dict]:
    return json.loads((DEFAULT_DATA_DIR / "listings.json").read_text(encoding="utf-8"))["listings"]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """A demo market on a free loopback port, in a background thread, for the whole module."""
    app = create_app(page_size=PAGE_SIZE, slow_seconds=SLOW_SECONDS, fail_first=FAIL_FIRST)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("demo market did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client to the market; the market is reset after each test, whatever the test changed."""
    with httpx.Client(base_url=base_url, timeout=10) as http:
        yield http
        http.post("/admin/reset")


def _listing(market_data: list[dict], fault: str) -> dict:
    return next(entry for entry in market_data if entry["fault"] == fault)


class TestData:
    def test_has_about_a_hundred_listings_of_each_kind(self, market_data: list[dict]) -> None:
        kinds = [entry["truth"]["kind"] for entry in market_data]
        assert 90 <= len(market_data) <= 110
        assert kinds.count("copy") >= 12 and kinds.count("lookalike") >= 12
        assert kinds.count("unrelated") > len(market_data) / 2

    def test_copies_and_lookalikes_name_a_catalog_sku(self, market_data: list[dict]) -> None:
        catalog = (DEFAULT_DATA_DIR.parent / "catalog" / "catalog.csv").read_text(encoding="utf-8")
        skus = {line.split(",", 1)[0] for line in catalog.splitlines()[1:]}
        for entry in market_data:
            kind, sku = entry["truth"]["kind"], entry["truth"]["sku"]
            assert (sku in skus) if kind in ("copy", "lookalike") else sku == ""

    def test_some_titles_say_replica_and_some_prices_are_far_below_catalog(
        self, market_data: list[dict]
    ) -> None:
        titles = " ".join(entry["title"] for entry in market_data)
        assert any(word in titles for word in ("replica", "1:1", "AAA"))
        assert len({entry["seller"] for entry in market_data}) >= 10

    def test_photos_are_small_jpegs_and_the_folder_stays_small(self, market_data: list[dict]) -> None:
        for entry in market_data:
            with Image.open(DEFAULT_DATA_DIR / entry["image"]) as image:
                assert image.format == "JPEG" and max(image.size) <= 320
        total = sum(path.stat().st_size for path in DEFAULT_DATA_DIR.rglob("*") if path.is_file())
        assert total < 5_000_000

    def test_every_fault_is_on_an_unrelated_listing(self, market_data: list[dict]) -> None:
        faults = {entry["fault"]: entry["truth"]["kind"] for entry in market_data if entry["fault"]}
        assert set(faults) == {"robots", "broken_image", "huge_image", "slow", "flaky", "missing"}
        assert set(faults.values()) == {"unrelated"}


class TestServerRenderedStorefront:
    def test_pagination_reaches_every_listing_once(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        adapter = get_adapter("demo-ssr")
        url: str | None = adapter.search_url(str(client.base_url), "")
        seen: list[str] = []
        pages = 0
        while url:
            response = client.get(url)
            assert response.status_code == 200
            pages += 1
            seen += [listing.url for listing in extract_listings(response.text, url)]
            url = next_page_url(response.text, url, adapter, pages_seen=pages)
        assert pages == math.ceil(len(market_data) / PAGE_SIZE)
        assert len(seen) == len(set(seen)) == len(market_data)

    def test_search_filters_titles_by_every_word(self, client: httpx.Client, market_data: list[dict]) -> None:
        response = client.get("/ssr/search", params={"q": "oat milk"})
        found = extract_listings(response.text, str(response.url))
        expected = [e for e in market_data if "oat" in e["title"].lower() and "milk" in e["title"].lower()]
        assert len(found) == len(expected) > 0

    def test_a_page_past_the_end_is_empty_without_a_next_link(self, client: httpx.Client) -> None:
        response = client.get("/ssr/search", params={"page": 99})
        assert response.status_code == 200
        assert extract_listings(response.text, str(response.url), adapter=None) == []
        assert 'rel="next"' not in response.text

    def test_generic_extraction_reads_search_pages_as_the_adapter_does(self, client: httpx.Client) -> None:
        for page in (1, 2):
            response = client.get("/ssr/search", params={"page": page})
            url = str(response.url)
            with_adapter = extract_listings(response.text, url, adapter=get_adapter("demo-ssr"))
            generic = extract_listings(response.text, url, adapter=None)
            assert len(with_adapter) == PAGE_SIZE
            assert [(x.url, x.title, x.price, x.image) for x in generic] == [
                (x.url, x.title, x.price, x.image) for x in with_adapter
            ]

    def test_search_cards_carry_every_field(self, client: httpx.Client, market_data: list[dict]) -> None:
        response = client.get("/ssr/search")
        by_url = {x.url: x for x in extract_listings(response.text, str(response.url))}
        entry = next(e for e in market_data if e["fault"] is None)
        listing = by_url[f"{client.base_url}/ssr/item/{entry['id']}"]
        assert (listing.title, listing.price, listing.currency) == (entry["title"], entry["price"], "EUR")
        assert (listing.seller, listing.quantity) == (entry["seller"], entry["quantity"])
        assert listing.listed_at is not None and listing.listed_at.isoformat() == entry["listed_at"]
        assert listing.image == f"{client.base_url}/images/{entry['id']}.jpg"

    @pytest.mark.parametrize("adapter", ["auto", None])
    def test_item_pages_declare_the_listing_in_json_ld(
        self, client: httpx.Client, market_data: list[dict], adapter: str | None
    ) -> None:
        entry = next(e for e in market_data if e["fault"] is None and e["truth"]["kind"] == "copy")
        response = client.get(f"/ssr/item/{entry['id']}")
        assert response.status_code == 200
        assert '"@type": "Product"' in response.text and '"@type": "Offer"' in response.text
        [listing] = extract_listings(response.text, str(response.url), adapter=adapter)  # type: ignore[arg-type]
        assert listing.url == str(response.url)
        assert (listing.title, listing.price, listing.currency) == (entry["title"], entry["price"], "EUR")
        assert (listing.seller, listing.quantity) == (entry["seller"], entry["quantity"])
        assert listing.listed_at is not None and listing.listed_at.isoformat() == entry["listed_at"]

    def test_item_pages_never_show_the_ground_truth(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        entry = next(e for e in market_data if e["truth"]["kind"] == "copy" and e["fault"] is None)
        text = client.get(f"/ssr/item/{entry['id']}").text
        assert entry["truth"]["sku"] not in text and "lookalike" not in text


class TestRobots:
    def test_robots_txt_disallows_the_private_area_linked_from_results(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        robots = RobotFileParser()
        robots.parse(client.get("/robots.txt").text.splitlines())
        links = [
            x.url for x in extract_listings(client.get("/ssr/search").text, f"{client.base_url}/ssr/search")
        ]
        private = f"{client.base_url}/ssr/private/item/{_listing(market_data, 'robots')['id']}"
        assert private in links
        assert not robots.can_fetch("HallmarkBot", private)
        assert [link for link in links if not robots.can_fetch("HallmarkBot", link)] == [private]
        assert not robots.can_fetch("HallmarkBot", f"{client.base_url}/admin/reset")

    def test_the_private_listing_exists_for_those_who_ignore_robots(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        entry = _listing(market_data, "robots")
        assert client.get(f"/ssr/private/item/{entry['id']}").status_code == 200
        assert client.get(f"/ssr/item/{entry['id']}").status_code == 404


class TestJavaScriptStorefront:
    def test_the_app_page_holds_no_listings_and_no_external_assets(self, client: httpx.Client) -> None:
        html = client.get("/app/").text
        assert "/api/listings" in html and "<script>" in html
        assert extract_listings(html, f"{client.base_url}/app/", adapter=None) == []
        assert "<script src" not in html and "stylesheet" not in html and "https://" not in html

    def test_api_offsets_page_through_every_listing(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        adapter = get_adapter("demo-app-api")
        offset: int | None = 0
        seen: list[str] = []
        while offset is not None:
            url = adapter.api_url(str(client.base_url), "", offset)
            payload = client.get(url).json()
            assert payload["offset"] == offset and payload["total"] == len(market_data)
            seen += [x.url for x in extract_api_listings(payload, url, adapter)]
            offset = next_api_offset(payload, adapter, offset)
        assert len(seen) == len(set(seen)) == len(market_data)

    def test_the_api_and_the_search_pages_agree(self, client: httpx.Client) -> None:
        api_url = f"{client.base_url}/api/listings?offset=0&limit={PAGE_SIZE}"
        api = extract_api_listings(client.get(api_url).json(), api_url, get_adapter("demo-app-api"))
        page = client.get("/ssr/search")
        ssr = extract_listings(page.text, str(page.url))
        assert api == ssr

    def test_api_windows_and_limits(self, client: httpx.Client, market_data: list[dict]) -> None:
        last = client.get("/api/listings", params={"offset": len(market_data) - 3, "limit": 10}).json()
        assert len(last["items"]) == 3 and last["next_offset"] is None
        assert client.get("/api/listings", params={"limit": 1000}).status_code == 422
        assert client.get("/api/listings", params={"offset": -1}).status_code == 422


class TestHostileEndpoints:
    def test_the_broken_image_is_a_truncated_jpeg(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        response = client.get(f"/images/{_listing(market_data, 'broken_image')['id']}.jpg")
        assert response.status_code == 200 and response.content[:2] == b"\xff\xd8"
        with pytest.raises(OSError), Image.open(io.BytesIO(response.content)) as image:
            image.load()

    def test_the_huge_image_claims_30000_pixels_a_side_in_a_tiny_body(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        page = client.get("/ssr/search")
        [card] = [
            x
            for x in extract_listings(page.text, str(page.url))
            if x.url.endswith(_listing(market_data, "huge_image")["id"])
        ]
        assert card.image is not None and card.image.endswith(".png")
        response = client.get(card.image)
        body = response.content
        assert len(body) < 10_000 and body[:8] == b"\x89PNG\r\n\x1a\n" and body[12:16] == b"IHDR"
        assert (int.from_bytes(body[16:20]), int.from_bytes(body[20:24])) == (30_000, 30_000)
        with pytest.raises(Image.DecompressionBombError):
            Image.open(io.BytesIO(body))

    def test_an_oversized_body_streams_the_asked_megabytes(self, client: httpx.Client) -> None:
        with client.stream("GET", "/images/oversized.jpg", params={"mb": 3}) as response:
            assert sum(len(chunk) for chunk in response.iter_bytes()) == 3 * 1024 * 1024

    def test_the_slow_page_takes_its_time(self, client: httpx.Client, market_data: list[dict]) -> None:
        path = f"/ssr/item/{_listing(market_data, 'slow')['id']}"
        with pytest.raises(httpx.TimeoutException):
            client.get(path, timeout=SLOW_SECONDS / 4)
        started = time.monotonic()
        assert client.get(path).status_code == 200
        assert time.monotonic() - started >= SLOW_SECONDS * 0.9

    def test_the_slow_page_does_not_block_other_requests(
        self, base_url: str, market_data: list[dict]
    ) -> None:
        slow = f"{base_url}/ssr/item/{_listing(market_data, 'slow')['id']}"
        waiting = threading.Thread(target=httpx.get, args=(slow,))
        waiting.start()
        started = time.monotonic()
        assert httpx.get(f"{base_url}/robots.txt").status_code == 200
        assert time.monotonic() - started < SLOW_SECONDS
        waiting.join()

    def test_the_flaky_page_fails_its_first_requests_then_works(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        path = f"/ssr/item/{_listing(market_data, 'flaky')['id']}"
        codes = [client.get(path).status_code for _ in range(FAIL_FIRST + 2)]
        assert codes == [500] * FAIL_FIRST + [200, 200]
        client.post("/admin/reset")
        assert client.get(path).status_code == 500

    def test_a_listing_linked_from_results_can_be_missing(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        entry = _listing(market_data, "missing")
        page = client.get("/ssr/search")
        assert f"/ssr/item/{entry['id']}" in page.text
        assert client.get(f"/ssr/item/{entry['id']}").status_code == 404
        assert client.get("/ssr/item/L999").status_code == 404


class TestAdmin:
    def test_a_removed_listing_answers_410_and_leaves_the_results(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        entry = next(e for e in market_data if e["fault"] is None)
        assert client.post(f"/admin/remove/{entry['id']}").status_code == 204
        assert client.get(f"/ssr/item/{entry['id']}").status_code == 410
        assert client.get(f"/api/listings/{entry['id']}").status_code == 410
        assert client.get("/api/listings", params={"limit": 100}).json()["total"] == len(market_data) - 1
        client.post(f"/admin/restore/{entry['id']}")
        assert client.get(f"/ssr/item/{entry['id']}").status_code == 200

    def test_a_changed_price_shows_on_the_next_fetch(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        entry = next(e for e in market_data if e["fault"] is None)
        response = client.patch(f"/admin/listings/{entry['id']}", json={"price": 1.23, "quantity": 0})
        assert response.status_code == 200 and "truth" not in response.json()
        page = client.get(f"/ssr/item/{entry['id']}")
        [listing] = extract_listings(page.text, str(page.url))
        assert (listing.price, listing.quantity) == (1.23, 0)

    def test_an_empty_or_invalid_change_is_refused(
        self, client: httpx.Client, market_data: list[dict]
    ) -> None:
        listing_id = market_data[0]["id"]
        assert client.patch(f"/admin/listings/{listing_id}", json={}).status_code == 422
        assert client.patch(f"/admin/listings/{listing_id}", json={"price": -1}).status_code == 422
        assert client.post("/admin/remove/L999").status_code == 404

    def test_create_app_refuses_a_folder_without_data(self, tmp_path: Path) -> None:
        from hallmark.errors import NotFoundError

        with pytest.raises(NotFoundError, match="listings.json"):
            create_app(tmp_path)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("no Chromium on this machine")


@pytest.mark.browser
class TestJavaScriptStorefrontInChromium:
    def test_scrolling_to_the_bottom_loads_every_listing(
        self, base_url: str, market_data: list[dict]
    ) -> None:
        sync_api = pytest.importorskip("playwright.sync_api")
        adapter = get_adapter("demo-app")
        assert adapter.needs_browser and adapter.search is not None
        url = adapter.search_url(base_url, "")
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(url)
                page.wait_for_selector("article.card")
                first = extract_listings(page.content(), url)
                for _ in range(adapter.search.pagination.max_pages):
                    if page.locator("article.card").count() >= len(market_data):
                        break
                    page.mouse.wheel(0, 100_000)
                    page.wait_for_timeout(400)
                rendered = page.content()
            finally:
                browser.close()
        assert len(first) == PAGE_SIZE
        listings = extract_listings(rendered, url)
        assert [x.url for x in listings] == [x.url for x in extract_listings(rendered, url, adapter=None)]
        api_url = f"{base_url}/api/listings?offset=0&limit=100"
        api = extract_api_listings(httpx.get(api_url).json(), api_url, get_adapter("demo-app-api"))
        assert [(x.url, x.title, x.price, x.image, x.seller) for x in listings] == [
            (x.url, x.title, x.price, x.image, x.seller) for x in api
        ]
