"""`deshi worker`: run background jobs (retrains, webhook deliveries, go-live and drift checks,
replies drafted and sent without review) from the database queue."""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import timedelta
from types import FrameType

import typer

from deshi.cli._allocator import log_allocator
from deshi.cli._db import cli_settings
from deshi.db import engine_from_settings, make_session_factory
from deshi.drafting.service import make_drafter
from deshi.engine.blas import limit_blas_threads
from deshi.jobs.queue import DEFAULT_LEASE
from deshi.jobs.worker import Worker
from deshi.learning.registry import AgentRegistry
from deshi.logs import configure_logging
from deshi.web.background import default_handlers
from deshi.webhooks.outbound import OutboundPolicy, outbound_client

__all__ = ["register", "worker"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."

logger = logging.getLogger("deshi.worker")


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
    """Run queued jobs until stopped.

    SIGTERM or Ctrl-C lets the running job finish, for up to DESHI_SHUTDOWN_GRACE_SECONDS; a
    second signal, or the end of that grace, releases the job back to the queue (another worker
    runs it again) and the worker exits.

    Run as many workers as you like against one PostgreSQL database: they never take the same
    job, and a crashed worker's job is retried once its lease expires.
    """
    settings = cli_settings(db)
    engine = engine_from_settings(settings)
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    log_allocator(logger)
    limit_blas_threads(settings.blas_threads)
    with outbound_client() as client:
        registry = AgentRegistry(training_threads=settings.training_threads)
        outbound = OutboundPolicy.from_settings(settings)
        handlers = default_handlers(
            registry=registry,
            client=client,
            outbound=outbound,
            drafter=make_drafter(settings),
            isolated_retrains=settings if settings.isolate_retrains else None,
        )
        runner = Worker(make_session_factory(engine), handlers, lease=timedelta(seconds=lease))
        try:
            if once:
                _run_once(runner)
                return
            shutdown = _GracefulShutdown(runner, grace=settings.shutdown_grace_seconds)
            signal.signal(signal.SIGTERM, shutdown.on_signal)
            signal.signal(signal.SIGINT, shutdown.on_signal)
            typer.echo(f"Worker {runner.name} running; Ctrl-C to stop.")
            try:
                runner.run(shutdown.stop, poll_seconds=poll)
            except _StopNow:
                pass  # Worker.run_once released the running job: an orderly exit
            finally:
                shutdown.cancel()
        finally:
            engine.dispose()


def _run_once(runner: Worker) -> None:
    """`--once` (a cron job, say): SIGTERM gives the running job back to the queue at once."""
    previous = signal.signal(signal.SIGTERM, _stop_now)
    try:
        typer.echo(f"Ran {runner.run_until_idle()} job(s).")
    except _StopNow:
        typer.echo("Stopped; the running job went back to the queue.")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_now(_signum: int, _frame: FrameType | None) -> None:
    raise _StopNow


class _StopNow(BaseException):
    """Raised in the main thread to abandon the running job: its transaction rolls back as the
    exception unwinds, then `Worker.run_once` releases the job back to the queue."""


class _GracefulShutdown:
    """First signal: stop after the running job, and arm a timer for the grace period. Second
    signal: leave at once (the job is released as the exception unwinds it). End of the grace:
    the timer releases the job from its own thread (whatever the main thread is blocked in),
    then sends the second signal."""

    def __init__(self, runner: Worker, *, grace: float) -> None:
        self.runner = runner
        self.grace = grace
        self.stop = threading.Event()
        self._timer: threading.Timer | None = None

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stop.is_set():
            self.stop.set()
            logger.info("stopping after the running job (at most %ss)", self.grace)
            self._timer = threading.Timer(self.grace, self._expire, args=(signum,))
            self._timer.daemon = True
            self._timer.start()
            return
        raise _StopNow

    def _expire(self, signum: int) -> None:
        self.runner.release_current()
        os.kill(os.getpid(), signum)

    def cancel(self) -> None:
        """Disarm the grace timer (the worker stopped in time)."""
        if self._timer is not None:
            self._timer.cancel()


def register(app: typer.Typer) -> None:
    """Attach the `worker` command to the main app."""
    app.command("worker")(worker)
