"""``hallmark catalog``: import, remove and count a brand's reference photos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.output import EXIT_FAILED, user_errors
from index.service import open_catalog

catalog_app = typer.Typer(
    help="Manage the reference catalog: products and their photos.", no_args_is_help=True
)


@catalog_app.command("import")
def import_catalog(
    csv_file: Annotated[Path, typer.Argument(help="CSV with columns sku,name,brand,image (+ optional).")],
) -> None:
    """Import products and reference photos from a CSV file (additive and idempotent)."""
    with user_errors():
        report = open_catalog().import_csv(csv_file)
    for error in report.errors:
        typer.echo(f"{csv_file}: {error}; row skipped", err=True)
    typer.echo(
        f"{report.rows} rows: {report.products_added} products added, "
        f"{report.references_added} photos added, {report.references_unchanged} unchanged, "
        f"{len(report.errors)} skipped"
    )
    if report.errors:
        raise typer.Exit(EXIT_FAILED)


@catalog_app.command("learn")
def learn() -> None:
    """Add the listing photos reviewers confirmed as product matches to their products' photos.

    A person's photo of a product, once confirmed, finds the next such photo far better than the
    studio packshot does (see BENCHMARKS.md). Run it after review sessions; running it again adds
    nothing new.
    """
    with user_errors():
        report = open_catalog().add_confirmed_photos()
    for error in report.errors:
        typer.echo(f"{error}; photo skipped", err=True)
    typer.echo(
        f"{report.cases} confirmed product matches: {report.added} photos added, "
        f"{report.unchanged} already there, {len(report.errors)} skipped"
    )
    if report.errors:
        raise typer.Exit(EXIT_FAILED)


@catalog_app.command("remove")
def remove_product(sku: Annotated[str, typer.Argument(help="SKU of the product to remove.")]) -> None:
    """Remove a product and its reference photos."""
    with user_errors():
        removed = open_catalog().remove_product(sku)
    typer.echo(f"removed {sku} and {removed} photo(s)")


@catalog_app.command("stats")
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Count products, reference photos and indexed vectors."""
    with user_errors():
        counts = open_catalog().stats()
    payload = {"products": counts.products, "references": counts.references, "indexed": counts.indexed}
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        typer.echo("  ".join(f"{name}: {value}" for name, value in payload.items()))


def register(app: typer.Typer) -> None:
    """Adds ``hallmark catalog`` to the app."""
    app.add_typer(catalog_app, name="catalog")
