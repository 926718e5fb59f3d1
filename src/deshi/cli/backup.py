"""`deshi backup` and `deshi restore`: the workspace's database to one file and back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from deshi.cli._db import cli_settings
from deshi.db import engine_from_settings, is_sqlite
from deshi.db.backup import BackupFile, backup_database, restore_database
from deshi.db.migrate import current_revision
from deshi.errors import DeshiError
from deshi.settings import Settings

__all__ = ["register"]

JSON_HELP = "Print the outcome as JSON on stdout."


def backup(
    out: Path = typer.Option(..., "--out", help="File to write (replaced if it exists)."),
    db: str | None = typer.Option(
        None, "--db", help="Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Write a consistent copy of the database, even while it is in use.

    SQLite: the online backup API; PostgreSQL: pg_dump -Fc (installed, at least the server's
    version).
    """
    settings = cli_settings(db)
    try:
        revision = _revision(settings)
    except SQLAlchemyError as error:
        typer.echo(f"Error: cannot open the database: {getattr(error, 'orig', error)}", err=True)
        raise typer.Exit(1) from None
    if revision is None:
        typer.echo("Not a deshi database (no schema revision): nothing was backed up.", err=True)
        raise typer.Exit(1)
    written = _or_exit(lambda: backup_database(settings.database_url, out))
    if as_json:
        typer.echo(json.dumps(_json(written, schema_revision=revision)))
    else:
        typer.echo(f"Backed up to {written.path} ({written.backend}, schema revision {revision}).")


def restore(
    file: Path = typer.Argument(..., help="A file written by `deshi backup`."),
    db: str = typer.Option(..., "--db", help="Database URL to restore into (an empty database)."),
    force: bool = typer.Option(
        False, "--force", help="Replace a database that is not empty (stop its servers first)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Restore a backup into an empty database (--force: replace a non-empty one)."""
    settings = cli_settings(db)
    try:
        replaced = _revision(settings)  # with --force, the schema revision that was overwritten
    except SQLAlchemyError:
        replaced = None  # unreachable: restore_database says why, after checking the file
    restored = _or_exit(lambda: restore_database(file, settings.database_url, force=force))
    revision = _revision(settings)
    if as_json:
        typer.echo(json.dumps(_json(restored, schema_revision=revision, replaced=replaced)))
        return
    typer.echo(f"Restored {restored.path} into {_safe(db)} (schema revision {revision}).")
    typer.echo("Next: `deshi init` upgrades an older schema; `deshi audit verify` checks the log.")


def _revision(settings: Settings) -> str | None:
    """The database's schema revision; None when it has none (or, for SQLite, no file)."""
    url = settings.database_url
    if is_sqlite(url) and not Path(make_url(url).database or ":memory:").is_file():
        return None  # opening it would create an empty file
    engine = engine_from_settings(settings)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _or_exit(call: Callable[[], BackupFile]) -> BackupFile:
    try:
        return call()
    except DeshiError as error:
        typer.echo(f"Error: {error.detail}", err=True)
        raise typer.Exit(1) from None


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _json(done: BackupFile, **extra: Any) -> dict[str, Any]:
    return {"file": str(done.path), "backend": done.backend, "bytes": done.size, **extra}


def register(app: typer.Typer) -> None:
    """Attach `backup` and `restore` to the main app."""
    app.command("backup")(backup)
    app.command("restore")(restore)
