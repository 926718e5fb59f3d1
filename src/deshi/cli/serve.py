"""`deshi serve`: run the REST API (OpenAPI at /docs) with uvicorn."""

from __future__ import annotations

import logging

import typer

__all__ = ["register"]

logger = logging.getLogger("deshi.serve")


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
    """Serve the API on HOST:PORT until interrupted; run `deshi init` on the database first.

    On SIGTERM or Ctrl-C it stops accepting connections, lets open requests and the background
    job finish (up to DESHI_SHUTDOWN_GRACE_SECONDS each; an unfinished job is released back to
    the queue) and exits.
    """
    import uvicorn

    from deshi.cli._allocator import log_allocator
    from deshi.cli._db import cli_settings
    from deshi.engine.blas import limit_blas_threads
    from deshi.logs import configure_logging
    from deshi.web import create_app
    from deshi.web.config import ApiConfig

    settings = cli_settings(db)
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    log_allocator(logger)
    limit_blas_threads(settings.blas_threads)
    config = ApiConfig.from_settings(settings, background_worker=worker, long_running=True)
    app = create_app(settings, config=config)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # configure_logging did it: one format for uvicorn's lines and ours
        log_level=settings.log_level.lower(),
        access_log=False,  # the deshi.http logger writes one line per request, with its id
        # SIGTERM: stop accepting, let open requests finish for this long, then shut down
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


def register(app: typer.Typer) -> None:
    """Attach `serve` to the main app."""
    app.command("serve")(serve)
