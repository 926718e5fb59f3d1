"""Workspace administration: `deshi init` (schema + first admin); the audit log's commands are
in `deshi.cli.audit`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy import Engine

from deshi.auth import repo as auth_repo
from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_first_admin
from deshi.cli._db import cli_settings
from deshi.db import engine_from_settings, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.settings import Settings

__all__ = ["register"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    engine = engine_from_settings(settings)
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
    settings = cli_settings(db)
    with _engine(settings) as engine:
        upgrade_to_head(engine)
        with transaction(make_session_factory(engine)) as session:
            if auth_repo.any_user_exists(session):
                typer.echo("Already initialised: schema is up to date; no admin was created.")
                return
            admin = create_first_admin(
                session,
                email=admin_email,
                password_hasher=PasswordHasher(settings.password_hash_profile),
            )
    typer.echo(f"Initialised. Admin: {admin.user.email}")
    typer.echo(f"Password (shown once, store it now): {admin.password}")


def register(app: typer.Typer) -> None:
    """Attach `init` to the main app."""
    app.command("init")(init)
