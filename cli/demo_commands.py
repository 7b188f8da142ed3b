"""``hallmark demo``: the whole product on its own small data, with nothing from outside.

It imports the demo catalog, checks a handful of listing photos, starts the demo marketplace on
loopback, crawls it, matches every listing photo (flagged listings open cases), prints what it found,
and serves the API until Ctrl-C.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from cli.crawl_commands import crawl_and_match
from cli.output import EXIT_FAILED, user_errors
from crawlers.job import CrawlJob
from crawlers.jobs import FAILED
from crawlers.stats import format_stats
from hallmark.db import open_database
from hallmark.db.cases import Case
from hallmark.db.listings import Listing
from hallmark.keys import create_key
from hallmark.roles import Role
from hallmark.settings import Settings, get_settings
from index.checking import check_paths, collect_images
from index.service import open_catalog, open_matcher

DEMO_DATA = Path(__file__).resolve().parents[1] / "demo"
#: The server-rendered storefront: it needs no browser, so the demo runs on any machine.
DEMO_ADAPTER = "demo-ssr"
#: Cases printed after the crawl, riskiest first.
CASES_SHOWN = 10


def _import_and_check(settings: Settings) -> None:
    catalog = open_catalog(settings)
    report = catalog.import_csv(DEMO_DATA / "catalog" / "catalog.csv")
    counts = catalog.stats()
    typer.echo(
        f"catalog: {counts.products} products, {counts.references} reference photos "
        f"({report.references_added} new)"
    )
    matcher = open_matcher(settings, catalog)
    listings = DEMO_DATA / "listings"
    images = [(path.name, path) for _, path in collect_images([str(listings)])]
    typer.echo(f"checking {len(images)} listing photos from {listings}:")
    width = max(len(name) for name, _ in images)
    for outcome in check_paths(matcher, images, top_k=3, batch_size=settings.check_batch_size):
        if outcome.result is None:
            typer.echo(f"  {outcome.name:<{width}}  error: {outcome.error}")
            continue
        result = outcome.result
        best = result.matches[0] if result.matches else None
        match = f"{best.sku} ({best.name})" if best and result.verdict != "none" else ""
        typer.echo(f"  {outcome.name:<{width}}  {result.verdict:<7}  {result.score:.2f}  {match}")


def _print_cases(settings: Settings) -> None:
    database = open_database(settings)
    with database.session() as session:
        cases = session.scalars(select(Case).order_by(Case.risk_score.desc(), Case.id)).all()
        typer.echo(f"cases: {len(cases)}; the riskiest:")
        for case in cases[:CASES_SHOWN]:
            listing = session.get(Listing, case.listing_id)
            title = (listing.title if listing else "")[:48]
            reasons = ", ".join(reason.get("code", "?") for reason in (case.risk_reasons or []))
            typer.echo(f"  case {case.id:>3}  risk {case.risk_score:.2f}  {title:<48}  {reasons}")


def demo(
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port the API listens on.")] = 8000,
    serve: Annotated[bool, typer.Option(help="Serve the API after the crawl, until Ctrl-C.")] = True,
    market_port: Annotated[
        int,
        typer.Option(
            min=1,
            max=65535,
            help="Port of the demo marketplace (fixed, so a re-run finds the same listings).",
        ),
    ] = 8765,
) -> None:
    """Import the demo catalog, crawl the demo marketplace, flag listings and serve the API."""
    from crawlers.demo_market import serving_in_background

    # The demo marketplace runs on loopback, which the URL guard refuses unless told otherwise:
    # the demo (like the tests) is the one place that turns this on. It is our own server on this
    # machine, so the politeness delays meant for real marketplaces are shortened too.
    settings = get_settings().model_copy(
        update={"allow_private_networks": True, "crawl_download_delay": 0.05, "crawl_retry_base_delay": 0.2}
    )
    with user_errors():
        typer.echo(f"data directory: {settings.resolved_home}")
        _import_and_check(settings)
        with serving_in_background(port=market_port) as market_url:
            typer.echo(f"demo marketplace on {market_url} (storefronts: /ssr/search and /app/)")
            run = crawl_and_match(settings, CrawlJob(DEMO_ADAPTER, market_url).validated())
            typer.echo(f"crawl {run.id}: {run.status}")
            for line in format_stats(run.stats):
                typer.echo(f"  {line}")
            if run.status == FAILED:
                typer.echo(f"  error: {run.error}", err=True)
                raise typer.Exit(EXIT_FAILED)
        _print_cases(settings)
        if not serve:
            return
        import uvicorn

        from api.app import create_app

        database = open_database(settings)
        with database.session() as session:
            _, key = create_key(session, Role.ADMIN, "demo")
        typer.echo(f"API on http://{host}:{port}/ (OpenAPI: /docs); demo admin key:")
        typer.echo(f"  {key}")
        typer.echo("Ctrl-C stops.")
        uvicorn.run(create_app(settings, preload_model=True), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Adds ``hallmark demo`` to the app."""
    app.command("demo")(demo)
