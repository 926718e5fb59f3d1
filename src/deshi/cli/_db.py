"""The database session every CLI command uses: one transaction, errors as one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy.orm import Session

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.errors import DeshiError
from deshi.settings import Settings


@contextmanager
def cli_session(db: str | None) -> Iterator[Session]:
    """A transaction on the database; DeshiErrors become one line on stderr and exit 1."""
    settings = Settings()
    engine = create_db_engine(
        db or settings.database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    except DeshiError as exc:
        typer.echo(f"Error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
