"""Alembic environment: the connection from deshi.db.migrate, else DESHI_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from deshi.db.engine import create_db_engine
from deshi.db.tables import Base
from deshi.settings import Settings


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Run against the given connection, or against the configured database."""
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run `deshi init`")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or Settings().database_url
    engine = create_db_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


run_migrations()
