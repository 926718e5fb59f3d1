"""The settings and database sessions CLI commands use: one transaction (or a factory), errors
as one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import engine_from_settings, make_session_factory, transaction
from deshi.db.failures import database_error, first_line
from deshi.errors import DeshiError
from deshi.settings import Settings


def cli_settings(db: str | None = None) -> Settings:
    """The DESHI_* settings, with `--db` when given; a bad variable is one line per problem on
    stderr and exit 2, not a traceback."""
    try:
        return Settings(database_url=db) if db else Settings()
    except ValidationError as error:
        for problem in error.errors():
            name = "DESHI_" + "_".join(str(part) for part in problem["loc"]).upper()
            typer.echo(f"Error: {name}: {problem['msg']}", err=True)  # no value: may be secret
        raise typer.Exit(2) from None


@contextmanager
def cli_factory(db: str | None) -> Iterator[sessionmaker[Session]]:
    """Sessions on the database, for commands that run several transactions; DeshiErrors and
    an unreachable, locked or full database become one line on stderr and exit 1."""
    engine = engine_from_settings(cli_settings(db))
    try:
        yield make_session_factory(engine)
    except DeshiError as exc:
        typer.echo(f"Error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    except DBAPIError as exc:
        meaning = database_error(exc)
        if meaning is None:
            raise  # a bug: its traceback is the report
        typer.echo(f"Error: {meaning.detail} ({first_line(exc)})", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@contextmanager
def cli_session(db: str | None, *, lock_early: bool = True) -> Iterator[Session]:
    """A transaction on the database; DeshiErrors become one line on stderr and exit 1.
    A command that only reads passes `lock_early=False` (`deshi.db.transaction`), so a long
    read does not hold SQLite's write lock against the servers."""
    with cli_factory(db) as factory, transaction(factory, lock_early=lock_early) as session:
        yield session
