"""``hallmark demo``: the whole product on its own small data, with nothing from outside."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.output import user_errors
from hallmark.settings import get_settings
from index.checking import check_paths, collect_images
from index.service import open_catalog, open_matcher

DEMO_DATA = Path(__file__).resolve().parents[1] / "demo"


def demo() -> None:
    """Import the demo catalog, check the demo listing photos and print the verdicts."""
    settings = get_settings()
    with user_errors():
        typer.echo(f"data directory: {settings.resolved_home}")
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


def register(app: typer.Typer) -> None:
    """Adds ``hallmark demo`` to the app."""
    app.command("demo")(demo)
