"""The SSRF guard: untrusted URLs never reach loopback, private, link-local or metadata addresses."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_http import HUGE_BYTES, png_bytes, serve

from hallmark.errors import FetchError, FetchTimeoutError, FetchTooLargeError, UnsafeUrlError
from hallmark.safe_fetch import fetch_url
from hallmark.settings import Settings


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve() as base:
        yield base


@pytest.fixture
def guarded(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, allow_private_networks=False)


@pytest.fixture
def open_network(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, allow_private_networks=True, fetch_timeout=5)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/image.png", "loopback"),
        ("http://localhost:{port}/image.png", "loopback"),
        ("http://[::1]:{port}/image.png", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/image.png", "loopback"),
        ("http://2130706433:{port}/image.png", "loopback"),
        ("http://0.0.0.0:{port}/image.png", "unspecified"),
        ("http://10.1.2.3/image.png", "private"),
        ("http://192.168.0.10/image.png", "private"),
        ("http://172.16.5.4/image.png", "private"),
        ("http://100.64.0.1/image.png", "non-public"),
        ("http://169.254.10.20/image.png", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://[fe80::1]/image.png", "link-local"),
        ("http://224.0.0.1/image.png", "multicast"),
    ],
)
def test_internal_addresses_are_refused_when_private_networks_are_off(
    server: str, guarded: Settings, url: str, reason: str
) -> None:
    port = server.rsplit(":", 1)[1]
    with pytest.raises(UnsafeUrlError, match=reason):
        fetch_url(url.format(port=port), settings=guarded, timeout=2)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://127.0.0.1:70/",
        "data:image/png;base64,AAAA",
        "//nohost",
        "http://",
    ],
)
def test_only_http_and_https_urls_with_a_host_are_fetched(guarded: Settings, url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        fetch_url(url, settings=guarded)


def test_credentials_in_a_url_are_refused(open_network: Settings, server: str) -> None:
    with pytest.raises(UnsafeUrlError, match="credentials"):
        fetch_url(server.replace("http://", "http://user:secret@") + "/image.png", settings=open_network)


def test_metadata_addresses_stay_refused_even_with_private_networks_allowed(open_network: Settings) -> None:
    with pytest.raises(UnsafeUrlError, match="metadata"):
        fetch_url("http://169.254.169.254/latest/meta-data/", settings=open_network, timeout=2)


def test_with_private_networks_allowed_loopback_is_fetched(open_network: Settings, server: str) -> None:
    fetched = fetch_url(f"{server}/image.png", settings=open_network)
    assert (fetched.status, fetched.content_type, fetched.body) == (200, "image/png", png_bytes())
    assert fetched.final_url == fetched.url == f"{server}/image.png"


def test_redirects_are_followed_and_reported(open_network: Settings, server: str) -> None:
    fetched = fetch_url(f"{server}/redirect?to=/image.png", settings=open_network)
    assert fetched.status == 200 and fetched.final_url == f"{server}/image.png"


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1:70/", "only http and https"),
    ],
)
def test_every_redirect_is_checked_again(
    open_network: Settings, server: str, target: str, error: str
) -> None:
    with pytest.raises(UnsafeUrlError, match=error):
        fetch_url(f"{server}/redirect?to={target}", settings=open_network)


def test_a_redirect_to_loopback_is_refused_at_connect_time(guarded: Settings) -> None:
    # The redirect's host resolves to loopback; the check happens when connecting, whatever the name.
    with pytest.raises(UnsafeUrlError, match="loopback"):
        fetch_url("http://localhost:9/redirect?to=http://127.0.0.1/", settings=guarded, timeout=2)


def test_endless_redirects_stop(open_network: Settings, server: str) -> None:
    with pytest.raises(FetchError, match="too many redirects"):
        fetch_url(f"{server}/loop", settings=open_network)


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"])
def test_a_body_over_the_cap_is_refused(open_network: Settings, server: str, path: str) -> None:
    with pytest.raises(FetchTooLargeError, match="cap"):
        fetch_url(f"{server}{path}", settings=open_network, max_bytes=HUGE_BYTES // 3)


def test_a_slow_server_is_cut_off_at_the_deadline(open_network: Settings, server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError, match="longer than 1 s"):
        fetch_url(f"{server}/slow", settings=open_network, timeout=1)
    assert time.monotonic() - started < 3


def test_a_server_that_accepts_but_never_answers_times_out(open_network: Settings) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(FetchTimeoutError):
            fetch_url(f"http://127.0.0.1:{port}/", settings=open_network, timeout=0.5)


def test_an_unknown_host_is_a_fetch_error(open_network: Settings) -> None:
    with pytest.raises(FetchError, match="cannot resolve"):
        fetch_url("http://no-such-host.invalid/image.png", settings=open_network, timeout=2)
