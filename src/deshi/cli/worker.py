"""`deshi worker`: run background jobs (retrains, webhook deliveries) from the database queue."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from types import FrameType

import httpx
import typer

from deshi.cli._db import cli_settings
from deshi.db import engine_from_settings, make_session_factory
from deshi.jobs.queue import DEFAULT_LEASE
from deshi.jobs.worker import Worker
from deshi.learning.registry import AgentRegistry
from deshi.web.background import default_handlers

__all__ = ["register", "worker"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."


def worker(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    once: bool = typer.Option(False, "--once", help="Run the jobs due now, then exit."),
    poll: float = typer.Option(1.0, "--poll", min=0.05, help="Seconds between idle polls."),
    lease: float = typer.Option(
        DEFAULT_LEASE.total_seconds(),
        "--lease",
        min=1.0,
        help="Seconds a job stays locked without renewal (renewed while it runs); a crashed "
        "worker's job is retried after it.",
    ),
) -> None:
    """Run queued jobs until stopped (SIGINT/SIGTERM finish the current job first).

    Run as many workers as you like against one PostgreSQL database: they never take the same
    job, and a crashed worker's job is retried once its lease expires.
    """
    settings = cli_settings(db)
    engine = engine_from_settings(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with httpx.Client(timeout=10.0) as client:
        registry = AgentRegistry(training_threads=settings.training_threads)
        handlers = default_handlers(registry=registry, client=client)
        runner = Worker(make_session_factory(engine), handlers, lease=timedelta(seconds=lease))
        try:
            if once:
                typer.echo(f"Ran {runner.run_until_idle()} job(s).")
                return
            stop = threading.Event()

            def _stop(_signum: int, _frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)
            typer.echo(f"Worker {runner.name} running; Ctrl-C to stop.")
            runner.run(stop, poll_seconds=poll)
        finally:
            engine.dispose()


def register(app: typer.Typer) -> None:
    """Attach the `worker` command to the main app."""
    app.command("worker")(worker)
