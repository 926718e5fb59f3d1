"""`deshi serve`: run the REST API (OpenAPI at /docs) with uvicorn."""

from __future__ import annotations

import typer

__all__ = ["register"]


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    db: str | None = typer.Option(
        None, "--db", help="Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."
    ),
    worker: bool = typer.Option(
        True, help="Run retrains and webhook deliveries in a background thread of this server."
    ),
) -> None:
    """Serve the API on HOST:PORT until interrupted; run `deshi init` on the database first."""
    import uvicorn

    from deshi.cli._db import cli_settings
    from deshi.web import create_app
    from deshi.web.config import ApiConfig

    settings = cli_settings(db)
    config = ApiConfig.from_settings(settings, background_worker=worker, freeze_gc=True)
    app = create_app(settings, config=config)
    uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Attach `serve` to the main app."""
    app.command("serve")(serve)
