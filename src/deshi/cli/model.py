"""`deshi model list | rollback | retrain`: inspect and govern a process's model versions."""

from __future__ import annotations

import getpass

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.cli._db import cli_factory, cli_session, cli_settings
from deshi.db.tables import ModelVersion, Process
from deshi.errors import NotFound
from deshi.inputs import MAX_ID
from deshi.learning import service
from deshi.learning.registry import AgentRegistry

__all__ = ["model_app", "register"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."

model_app = typer.Typer(
    help="Model versions of a process: list, roll back, retrain.", no_args_is_help=True
)


def _process(session: Session, process_id: int) -> Process:
    process = session.get(Process, process_id)
    if process is None:
        raise NotFound(f"process {process_id} not found")
    return process


@model_app.command("list")
def list_versions(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help="Process id."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List every stored version of a process, newest first."""
    with cli_session(db) as session:
        _process(session, process_id)
        rows = session.scalars(
            select(ModelVersion)
            .where(ModelVersion.process_id == process_id)
            .order_by(ModelVersion.version.desc())
        ).all()
        table = Table("version", "status", "threshold", "trained on", "created", "promoted")
        for row in rows:
            threshold = "-" if row.threshold is None else f"{row.threshold:.3f}"
            promoted = row.promoted_at.strftime("%Y-%m-%d %H:%M") if row.promoted_at else "-"
            table.add_row(
                str(row.version),
                row.status.value,
                threshold,
                str(row.trained_on),
                row.created_at.strftime("%Y-%m-%d %H:%M"),
                promoted,
            )
    if not rows:
        typer.echo(f"Process {process_id} has no model versions yet.")
        return
    Console().print(table)


@model_app.command("rollback")
def rollback(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help="Process id."),
    version: int = typer.Option(
        ..., "--version", min=1, max=MAX_ID, help="Version to make the champion."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Make an earlier version the champion again (audited)."""
    actor = f"cli:{getpass.getuser()}"
    with cli_session(db) as session:
        process = _process(session, process_id)
        service.rollback(session, process=process, version=version, actor=actor)
    typer.echo(f"Process {process_id}: version {version} is the champion.")


@model_app.command("retrain")
def retrain(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help="Process id."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Retrain now; the challenger is promoted only if it beats the champion on held-out items."""
    actor = f"cli:{getpass.getuser()}"
    registry = AgentRegistry(training_threads=cli_settings(db).training_threads)
    with cli_factory(db) as factory:
        report = service.retrain(factory, process_id=process_id, actor=actor, registry=registry)
    assert report is not None  # only a routine retrain skips
    outcome = "promoted" if report.promoted else "not promoted"
    if report.contested and not report.promoted:
        outcome += ", as it certifies less automation than the champion"
    typer.echo(
        f"Process {process_id}: version {report.version} trained on {report.trained_on} "
        f"items, {outcome} ({report.challenger_correct} vs {report.champion_correct} correct "
        f"on {report.holdout} held out); champion is version {report.champion_version}."
    )


def register(app: typer.Typer) -> None:
    """Attach the `model` group to the main app."""
    app.add_typer(model_app, name="model")
