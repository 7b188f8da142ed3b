"""``hallmark keys``: create, list and revoke API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import user_errors
from hallmark.db import open_database
from hallmark.keys import create_key, list_keys, parse_role, revoke_key
from hallmark.settings import get_settings

keys_app = typer.Typer(help="Manage API keys (admin, reviewer, partner).", no_args_is_help=True)


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="admin, reviewer or partner.")],
    name: Annotated[str | None, typer.Option("--name", help="Who the key is for.")] = None,
) -> None:
    """Create a key; the key itself is printed as the last line, once."""
    with user_errors():
        parsed = parse_role(role)
        with open_database(get_settings()).session() as session:
            info, key = create_key(session, parsed, name or f"{parsed.value} key")
    typer.echo(
        f"created key {info.id} ({info.role.value}, {info.name!r}); store it now, it is not shown again:",
        err=True,
    )
    typer.echo(key)


@keys_app.command("list")
def list_command(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List keys: id, role, name, prefix, last use."""
    with user_errors(), open_database(get_settings()).session() as session:
        infos = list_keys(session, include_revoked)
    for info in infos:
        used = info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "never"
        revoked = f"  revoked {info.revoked_at.isoformat(timespec='seconds')}" if info.revoked_at else ""
        typer.echo(f"{info.id}\t{info.role.value}\t{info.name}\t{info.prefix}...\tlast used {used}{revoked}")


@keys_app.command("revoke")
def revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see 'hallmark keys list').")]) -> None:
    """Revoke a key at once."""
    with user_errors(), open_database(get_settings()).session() as session:
        info = revoke_key(session, key_id)
    typer.echo(f"revoked key {info.id} ({info.role.value}, {info.name!r})")


def register(app: typer.Typer) -> None:
    """Adds ``hallmark keys`` to the app."""
    app.add_typer(keys_app, name="keys")
