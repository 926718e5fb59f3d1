"""Workspace administration: `deshi init` (schema + first admin) and `deshi audit verify`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy import Engine

from deshi.audit import verify_chain
from deshi.auth import repo as auth_repo
from deshi.auth.service import create_first_admin
from deshi.cli._db import cli_settings
from deshi.db import engine_from_settings, make_session_factory, transaction
from deshi.db.migrate import current_revision, upgrade_to_head

__all__ = ["register"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."

audit_app = typer.Typer(help="Check the append-only, hash-chained audit log.", no_args_is_help=True)


@contextmanager
def _engine(db: str | None) -> Iterator[Engine]:
    engine = engine_from_settings(cli_settings(db))
    try:
        yield engine
    finally:
        engine.dispose()


def init(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    admin_email: str = typer.Option("admin@localhost", help="Email of the first admin."),
) -> None:
    """Create or upgrade the schema; on a new workspace, also create the first admin.

    The admin's password is generated at random and printed once; a second run changes nothing
    but the schema version and prints no password.
    """
    with _engine(db) as engine:
        upgrade_to_head(engine)
        with transaction(make_session_factory(engine)) as session:
            if auth_repo.any_user_exists(session):
                typer.echo("Already initialised: schema is up to date; no admin was created.")
                return
            admin = create_first_admin(session, email=admin_email)
    typer.echo(f"Initialised. Admin: {admin.user.email}")
    typer.echo(f"Password (shown once, store it now): {admin.password}")


@audit_app.command("verify")
def verify(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Recompute the audit chain; exit 0 when intact, 1 naming the first bad event."""
    with _engine(db) as engine:
        if current_revision(engine) is None:
            typer.echo("Not initialised: run `deshi init` first.", err=True)
            raise typer.Exit(1)
        with make_session_factory(engine)() as session:
            result = verify_chain(session)
    if not result.ok:
        typer.echo(f"Audit chain BROKEN at event {result.first_bad_seq}: {result.reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"Audit chain intact: {result.checked} events, head {result.head_hash}")
    if result.unscoped:
        typer.echo(
            f"{result.unscoped} older events were hashed without their department: "
            "the chain proves their contents, not which department's auditors see them."
        )


def register(app: typer.Typer) -> None:
    """Attach `init` and the `audit` group to the main app."""
    app.command("init")(init)
    app.add_typer(audit_app, name="audit")
