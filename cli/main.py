"""The ``hallmark`` command: one Typer app; each area registers its own commands."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from cli import (
    catalog_commands,
    check_commands,
    crawl_commands,
    demo_commands,
    keys_commands,
    scheduler_commands,
    serials_commands,
    serve_commands,
    takedowns_commands,
    worker_commands,
)
from cli.output import EXIT_USAGE
from hallmark.settings import settings_problem

app = typer.Typer(
    name="hallmark",
    help="Hallmark: find counterfeit and copycat listings by matching photos against a brand's catalog.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

catalog_commands.register(app)
check_commands.register(app)
crawl_commands.register(app)
demo_commands.register(app)
keys_commands.register(app)
scheduler_commands.register(app)
serials_commands.register(app)
serve_commands.register(app)
takedowns_commands.register(app)
worker_commands.register(app)


def main() -> None:
    """Console-script entry point.

    Settings are read inside the commands; a ``HALLMARK_*`` variable they refuse is a usage error
    of the whole command line, reported here once in one line.
    """
    try:
        app()
    except ValidationError as error:
        problem = settings_problem(error)
        if problem is None:
            raise
        typer.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
