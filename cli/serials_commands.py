"""``hallmark serials``: import the serial registry and look at one serial."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.output import EXIT_FAILED, fail, user_errors
from hallmark.db import open_database
from hallmark.serials import import_serials, serial_info
from hallmark.settings import get_settings

serials_app = typer.Typer(help="The serial registry: import it, look serials up.", no_args_is_help=True)


@serials_app.command("import")
def import_command(
    csv_file: Annotated[Path, typer.Argument(help="CSV with columns sku,serial,batch.")],
) -> None:
    """Import serials (additive and idempotent; bad rows are reported by line and skipped)."""
    try:
        text = csv_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        fail(f"cannot read {csv_file}: {problem}")
    with user_errors(), open_database(get_settings()).session() as session:
        report = import_serials(session, text)
    for error in report.errors:
        typer.echo(f"{csv_file}: {error}; row skipped", err=True)
    typer.echo(
        f"{report.rows} rows: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.errors)} skipped"
    )
    if report.errors:
        raise typer.Exit(EXIT_FAILED)


@serials_app.command("show")
def show(serial: Annotated[str, typer.Argument(help="The serial.")]) -> None:
    """Show a serial's product, batch and look-up counts (does not count as a look-up)."""
    with user_errors(), open_database(get_settings()).session() as session:
        info = serial_info(session, serial)
    batch = info.batch or "-"
    typer.echo(f"{info.serial}\t{info.sku}\tbatch {batch}\t{info.lookups} look-ups from {info.places} places")


def register(app: typer.Typer) -> None:
    """Adds ``hallmark serials`` to the app."""
    app.add_typer(serials_app, name="serials")
