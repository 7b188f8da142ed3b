"""``hallmark extract`` and ``hallmark demo-market``: output formats, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli import crawl_commands

EBAY_PAGE = Path(__file__).resolve().parents[3] / "shared" / "data" / "pages" / "ebay_de_search.html"
EBAY_URL = "https://www.ebay.de/sch/i.html?_nkw=apple"
SMALL_PAGE = """<!doctype html><html><body><ul>
<li class="card"><a href="/i/1?utm_source=x"><img src="/1.jpg"><h2>Wool coat</h2></a><span>49,90 €</span></li>
<li class="card"><a href="/i/2"><img src="/2.jpg"><h2>Silk scarf</h2></a><span>19,00 € - 25,00 €</span></li>
</ul></body></html>"""


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """The commands of this module alone, registered as ``hallmark`` registers them."""
    commands = typer.Typer()
    crawl_commands.register(commands)
    return commands


@pytest.fixture
def small_page(tmp_path: Path) -> Path:
    path = tmp_path / "page.html"
    path.write_text(SMALL_PAGE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ebay_page() -> Path:
    if not EBAY_PAGE.exists():
        pytest.skip("../shared/data is not available")
    return EBAY_PAGE


def _run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


class TestExtract:
    def test_json_prints_one_object_per_listing_leaving_out_unknown_fields(
        self, app: typer.Typer, small_page: Path
    ) -> None:
        code, out, _ = _run(app, "extract", str(small_page), "--url", "https://shop.example/s?q=x", "--json")
        assert code == 0
        rows = [json.loads(line) for line in out.splitlines()]
        assert rows == [
            {
                "url": "https://shop.example/i/1",
                "title": "Wool coat",
                "price": 49.9,
                "currency": "EUR",
                "image": "https://shop.example/1.jpg",
            },
            {
                "url": "https://shop.example/i/2",
                "title": "Silk scarf",
                "price": 19.0,
                "price_max": 25.0,
                "currency": "EUR",
                "image": "https://shop.example/2.jpg",
            },
        ]

    def test_plain_output_is_price_title_and_url_tab_separated(
        self, app: typer.Typer, small_page: Path
    ) -> None:
        code, out, _ = _run(app, "extract", str(small_page), "--url", "https://shop.example/s")
        assert code == 0
        assert out.splitlines() == [
            "49.90 EUR\tWool coat\thttps://shop.example/i/1",
            "19.00-25.00 EUR\tSilk scarf\thttps://shop.example/i/2",
        ]

    def test_finds_the_64_ebay_listings_with_the_adapter(self, app: typer.Typer, ebay_page: Path) -> None:
        code, out, _ = _run(app, "extract", str(ebay_page), "--url", EBAY_URL, "--json")
        assert code == 0
        urls = [json.loads(line)["url"] for line in out.splitlines()]
        assert len(urls) == len(set(urls)) == 64

    def test_finds_most_ebay_listings_without_the_adapter(self, app: typer.Typer, ebay_page: Path) -> None:
        code, out, _ = _run(app, "extract", str(ebay_page), "--url", EBAY_URL, "--json", "--no-adapter")
        assert code == 0
        ids = {re.search(r"/itm/(\d+)", json.loads(line)["url"]).group(1) for line in out.splitlines()}  # type: ignore[union-attr]
        assert len(ids) >= 0.8 * 64

    def test_a_named_adapter_is_used_whatever_the_url(self, app: typer.Typer, ebay_page: Path) -> None:
        code, out, _ = _run(
            app, "extract", str(ebay_page), "--url", "https://mirror.example/s", "--adapter", "ebay", "--json"
        )
        assert code == 0 and len(out.splitlines()) == 64

    def test_an_empty_result_is_no_error(self, app: typer.Typer, tmp_path: Path) -> None:
        page = tmp_path / "empty.html"
        page.write_text("<html><body><p>No results</p></body></html>")
        assert _run(app, "extract", str(page), "--url", "https://shop.example/") == (0, "", "")


class TestExtractErrors:
    @pytest.mark.parametrize(
        ("make", "url", "code", "message"),
        [
            (lambda d: d / "missing.html", "https://shop.example/", 2, "cannot read"),
            (lambda d: d, "https://shop.example/", 2, "cannot read"),
            (
                lambda d: _write(d / "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"),
                "https://a.example/",
                1,
                "binary",
            ),
            (lambda d: _write(d / "notes.txt", b"milk 1,99 EUR\n"), "https://a.example/", 1, "HTML"),
            (lambda d: _write(d / "page.html", SMALL_PAGE.encode()), "shop.example/s", 2, "absolute"),
        ],
        ids=["missing file", "directory", "binary file", "plain text", "relative url"],
    )
    def test_bad_input_is_one_line_on_stderr_and_an_exit_code(
        self, app: typer.Typer, tmp_path: Path, make: object, url: str, code: int, message: str
    ) -> None:
        path = make(tmp_path)  # type: ignore[operator]
        exit_code, out, err = _run(app, "extract", str(path), "--url", url)
        assert exit_code == code
        assert out == ""
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err
        assert "Traceback" not in err

    def test_an_unknown_adapter_is_a_usage_error_listing_the_known_ones(
        self, app: typer.Typer, small_page: Path
    ) -> None:
        code, _, err = _run(
            app, "extract", str(small_page), "--url", "https://a.example/", "--adapter", "nope"
        )
        assert code == 2 and "ebay" in err and len(err.strip().splitlines()) == 1

    def test_no_adapter_and_a_named_adapter_together_are_a_usage_error(
        self, app: typer.Typer, small_page: Path
    ) -> None:
        code, _, err = _run(
            app,
            "extract",
            str(small_page),
            "--url",
            "https://a.example/",
            "--no-adapter",
            "--adapter",
            "ebay",
        )
        assert code == 2 and "not both" in err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


class TestDemoMarket:
    def test_demo_market_takes_host_and_port(self, app: typer.Typer) -> None:
        code, out, _ = _run(app, "demo-market", "--help")
        assert code == 0 and "--host" in out and "--port" in out

    def test_an_invalid_port_is_a_usage_error(self, app: typer.Typer) -> None:
        assert _run(app, "demo-market", "--port", "70000")[0] == 2


def test_the_installed_hallmark_command_extracts_a_page(small_page: Path) -> None:
    hallmark = Path(sys.executable).parent / "hallmark"
    if not hallmark.exists():
        pytest.skip("the hallmark console script is not installed")
    done = subprocess.run(
        [str(hallmark), "extract", str(small_page), "--url", "https://shop.example/s", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["title"] for line in done.stdout.splitlines()] == ["Wool coat", "Silk scarf"]
