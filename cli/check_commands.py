"""``hallmark check``: match image files against the catalog."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.output import EXIT_FAILED, user_errors, warn
from hallmark.settings import get_settings
from index.checking import CheckOutcome, check_paths, collect_images
from index.matcher import result_to_json
from index.service import open_matcher


def _line(outcome: CheckOutcome, as_json: bool) -> str:
    if outcome.result is None:
        if as_json:
            return json.dumps({"image": outcome.name, "error": outcome.error})
        return f"{outcome.name}\terror\t{outcome.error}"
    if as_json:
        return json.dumps(result_to_json(outcome.name, outcome.result))
    result = outcome.result
    best = result.matches[0] if result.matches else None
    described = f"{best.sku} ({best.kind}, {best.name})" if best else "-"
    return f"{outcome.name}\t{result.verdict}\t{result.score:.3f}\t{described}"


def check(
    paths: Annotated[list[str], typer.Argument(help="Image files and folders (recursed, sorted by path).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100, help="Candidates listed per image.")] = 5,
) -> None:
    """Check photos against the catalog; one line per image, in input order.

    Exit code 0 when every image was checked, 1 when some could not be, 2 for a usage error.
    """
    settings = get_settings()
    failures = 0
    with user_errors():
        images = collect_images(paths)
        matcher = open_matcher(settings)
        if matcher.catalog.stats().references == 0:
            warn("the catalog is empty: import one with 'hallmark catalog import CATALOG.csv'")
        for outcome in check_paths(matcher, images, top_k=top_k, batch_size=settings.check_batch_size):
            failures += outcome.error is not None
            typer.echo(_line(outcome, as_json))
    if failures:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Adds ``hallmark check`` to the app."""
    app.command("check")(check)
