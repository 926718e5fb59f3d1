"""Engine factory: SQLite gets durable, concurrent-friendly pragmas; PostgreSQL uses psycopg 3."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = ["create_db_engine", "is_sqlite"]


def is_sqlite(url: str) -> bool:
    """True when the URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(url: str, *, echo: bool = False, sqlite_busy_timeout_ms: int = 5000) -> Engine:
    """Create an engine for `url`; nothing is created at import time, callers own the engine."""
    if is_sqlite(url):
        engine = create_engine(url, echo=echo)
        _install_sqlite_pragmas(engine, busy_timeout_ms=sqlite_busy_timeout_ms)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _install_sqlite_pragmas(engine: Engine, *, busy_timeout_ms: int) -> None:
    """Set the pragmas on every new SQLite connection.

    WAL lets readers run while one writer commits; synchronous=FULL makes a commit durable
    across power loss (NORMAL in WAL mode may lose the last commits); foreign keys are off by
    default in SQLite; busy_timeout makes a second writer wait instead of failing at once.
    """

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()
