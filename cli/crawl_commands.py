"""``hallmark extract`` (listings in a saved marketplace page) and ``hallmark demo-market``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.output import EXIT_USAGE, fail, user_errors
from crawlers.adapter import Adapter, get_adapter
from crawlers.extract import ExtractedListing, check_page_url, extract_listings
from hallmark.errors import HallmarkError

# Pages bigger than this are not search or item pages; refusing them keeps a mistake cheap.
MAX_PAGE_BYTES = 20 * 1024 * 1024


def _line(listing: ExtractedListing, as_json: bool) -> str:
    if as_json:
        # Fields the page does not show are left out rather than printed as null.
        return json.dumps(listing.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
    if listing.price is None:
        price = "-"
    else:
        price = f"{listing.price:.2f}" + (
            f"-{listing.price_max:.2f}" if listing.price_max is not None else ""
        )
        price += f" {listing.currency}" if listing.currency else ""
    return "\t".join((price, listing.title or "-", listing.url))


def extract(
    file: Annotated[Path, typer.Argument(help="A saved HTML page (search results or an item page).")],
    url: Annotated[str, typer.Option("--url", help="The URL the page was fetched from.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    no_adapter: Annotated[
        bool, typer.Option("--no-adapter", help="Ignore site adapters; find listings by structure.")
    ] = False,
    adapter_name: Annotated[
        str | None, typer.Option("--adapter", help="Use this adapter instead of the one matching --url.")
    ] = None,
) -> None:
    """Print the listings found in a saved marketplace page, one per line.

    Plain output is tab-separated: price (a range as LOW-HIGH) with currency, title, listing URL. With
    --json each line is an object with url, title, price, price_max, currency, image, seller, quantity
    and listed_at; fields the page does not show are left out. Exit code 0 on success (also when
    nothing is found), 1 when the file is not HTML, 2 for a usage error.
    """
    if no_adapter and adapter_name:
        fail("give --no-adapter or --adapter, not both", EXIT_USAGE)
    try:
        check_page_url(url)
    except HallmarkError as error:
        fail(str(error), EXIT_USAGE)
    chosen: Adapter | Literal["auto"] | None = None if no_adapter else "auto"
    if adapter_name:
        try:
            chosen = get_adapter(adapter_name)
        except HallmarkError as error:
            fail(str(error), EXIT_USAGE)
    try:
        if file.stat().st_size > MAX_PAGE_BYTES:
            fail(f"{file} is larger than {MAX_PAGE_BYTES // (1024 * 1024)} MiB; not a marketplace page")
        html = file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}", EXIT_USAGE)
    with user_errors():
        listings = extract_listings(html, url, adapter=chosen)
    for listing in listings:
        typer.echo(_line(listing, as_json))


def demo_market(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8765,
) -> None:
    """Serve the demo marketplace (server-rendered and JavaScript storefronts) until Ctrl-C."""
    from crawlers.demo_market import serve  # the web stack loads only for this command

    typer.echo(
        f"demo market on http://{host}:{port}/ (SSR: /ssr/search, JavaScript app: /app/); Ctrl-C stops"
    )
    with user_errors():
        serve(host, port)


def register(app: typer.Typer) -> None:
    """Adds ``hallmark extract`` and ``hallmark demo-market`` to the app."""
    app.command("extract")(extract)
    app.command("demo-market")(demo_market)
