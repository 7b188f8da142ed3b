"""The SSR guard in crawls: photo URLs from crawled pages never reach private addresses."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import FAST_CRAWL_ENV
from demo_market_server import DemoMarket
from hallmark_cli import HallmarkRunner
from sqlalchemy import select

from crawlers.guard import BrowserRequestFilter, check_untrusted_url, refusal
from hallmark.db import ListingImage, open_database
from hallmark.errors import UnsafeUrlError
from hallmark.settings import Settings


class TestAddressRules:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/a.jpg",
            "http://10.1.2.3/a.jpg",
            "http://192.168.0.7/a.jpg",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/a.jpg",
            "http://localhost/a.jpg",
        ],
    )
    def test_private_loopback_link_local_and_metadata_addresses_are_refused(self, url: str) -> None:
        with pytest.raises(UnsafeUrlError):
            check_untrusted_url(url, allow_private=False)

    def test_allowing_private_networks_lets_loopback_through_but_never_metadata(self) -> None:
        check_untrusted_url("http://127.0.0.1:9/a.jpg", allow_private=True)
        with pytest.raises(UnsafeUrlError, match="metadata"):
            check_untrusted_url("http://169.254.169.254/", allow_private=True)

    @pytest.mark.parametrize(
        "url", ["file:///etc/passwd", "ftp://example.com/a.jpg", "http://u:p@example.com/"]
    )
    def test_other_schemes_and_credentials_are_refused(self, url: str) -> None:
        with pytest.raises(UnsafeUrlError):
            check_untrusted_url(url, allow_private=True)

    def test_one_private_address_among_public_ones_refuses_the_host(self) -> None:
        addresses = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")]
        assert refusal(addresses, allow_private=False) is not None
        assert refusal(addresses[:1], allow_private=False) is None


class TestBrowserRequestFilter:
    def test_a_rendered_page_loads_only_from_its_own_host_and_no_images(self) -> None:
        allowed = BrowserRequestFilter(["127.0.0.1"])
        assert not allowed(SimpleNamespace(resource_type="fetch", url="http://127.0.0.1:8/api/listings"))
        assert allowed(SimpleNamespace(resource_type="image", url="http://127.0.0.1:8/images/L1.jpg"))
        assert allowed(SimpleNamespace(resource_type="script", url="http://10.0.0.5/x.js"))


@pytest.mark.slow
def test_a_crawl_with_private_networks_off_refuses_the_loopback_photos_and_records_why(
    tmp_path: Path, model_cache: Path, demo_market: DemoMarket
) -> None:
    runner = HallmarkRunner(tmp_path / "home", model_cache)
    runner.env.update(FAST_CRAWL_ENV, HALLMARK_ALLOW_PRIVATE_NETWORKS="false")
    demo_market.reset()

    done = runner(
        "crawl", "run", "demo-ssr", "--base-url", demo_market.base_url, "--max-pages", "1", "--json"
    )

    assert done.returncode == 0, done.stderr[-3000:]
    stats = json.loads(done.stdout.splitlines()[-1])["stats"]
    assert stats["listings_new"] > 0 and stats["images_new"] == 0
    assert stats["images_failed"] == stats["errors"]["unsafe_address"] == stats["listings_new"]
    assert not [path for path in demo_market.paths() if path.startswith("/images/")]
    with open_database(Settings(home=tmp_path / "home")).session() as session:
        errors = session.scalars(select(ListingImage.error)).all()
    assert errors and all(error and "loopback" in error for error in errors)
