"""``hallmark takedowns recheck``: queue a look at every listing a takedown was sent for."""

from __future__ import annotations

import typer

from cli.output import user_errors
from hallmark.db import open_database
from hallmark.settings import get_settings
from hallmark.takedowns import enqueue_rechecks

takedowns_app = typer.Typer(help="Follow up sent takedowns.", no_args_is_help=True)


@takedowns_app.command("recheck")
def recheck() -> None:
    """Queue a re-check of every sent takedown; workers mark the cases removed when listings are gone."""
    with user_errors(), open_database(get_settings()).session() as session:
        queued = enqueue_rechecks(session)
    typer.echo(f"queued {queued} re-check(s)")


def register(app: typer.Typer) -> None:
    """Adds ``hallmark takedowns`` to the app."""
    app.add_typer(takedowns_app, name="takedowns")
