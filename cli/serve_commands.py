"""``hallmark serve``: run the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import user_errors
from hallmark.settings import get_settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes (share the database).")] = 1,
    preload: Annotated[bool, typer.Option(help="Load the model before serving.")] = True,
) -> None:
    """Serve the API (OpenAPI at /docs); several processes need PostgreSQL and a shared rate-limit store."""
    import uvicorn

    from api.app import create_app
    from api.rate_limit import RateLimiter

    settings = get_settings()
    with user_errors():
        # Refuse a bad configuration here, with one line, before any process starts.
        RateLimiter(settings)
        if workers > 1 and settings.rate_limit_storage.startswith("memory"):
            typer.echo(
                "warning: with several processes and memory:// rate limits, each process counts on its own; "
                "set HALLMARK_RATE_LIMIT_STORAGE=redis://... to share the counters",
                err=True,
            )
        if workers == 1:
            app = create_app(settings, preload_model=preload)
            uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)
        else:
            uvicorn.run(
                "api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
            )


def register(app: typer.Typer) -> None:
    """Adds ``hallmark serve`` to the app."""
    app.command("serve")(serve)
