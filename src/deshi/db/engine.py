"""Engine factory: SQLite gets durable, concurrent-friendly pragmas; PostgreSQL uses psycopg 3.

`engine_from_settings` is how the app, the worker and every CLI command get their engine, so
each database setting (`DESHI_DATABASE_URL`, `DESHI_SQL_ECHO`, `DESHI_SQLITE_BUSY_TIMEOUT_MS`)
reaches all of them.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from deshi.settings import Settings

__all__ = ["AUDIT_KEYS", "LOCK_EARLY", "create_db_engine", "engine_from_settings", "is_sqlite"]

# Execution option: on SQLite, begin the transaction with BEGIN IMMEDIATE (see below).
LOCK_EARLY: Final = "deshi_lock_early"
# Execution option: the audit keys (`Settings.audit_keys()`), so every session on the engine
# appends to and verifies the audit chain with them (deshi.audit.keys).
AUDIT_KEYS: Final = "deshi_audit_keys"


def is_sqlite(url: str) -> bool:
    """True when the URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(
    url: str,
    *,
    echo: bool = False,
    sqlite_busy_timeout_ms: int = 5000,
    audit_keys: tuple[bytes, ...] = (),
) -> Engine:
    """Create an engine for `url`; nothing is created at import time, callers own the engine."""
    options = {AUDIT_KEYS: audit_keys} if audit_keys else {}
    if is_sqlite(url):
        engine = create_engine(url, echo=echo, execution_options=options)
        _install_sqlite_pragmas(engine, busy_timeout_ms=sqlite_busy_timeout_ms)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, execution_options=options)


def engine_from_settings(settings: Settings) -> Engine:
    """The engine `settings` describe: their database URL, SQL echo, SQLite busy timeout and
    audit keys."""
    return create_db_engine(
        settings.database_url,
        echo=settings.sql_echo,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        audit_keys=settings.audit_keys(),
    )


def _install_sqlite_pragmas(engine: Engine, *, busy_timeout_ms: int) -> None:
    """Set the pragmas on every new SQLite connection.

    WAL lets readers run while one writer commits; synchronous=FULL makes a commit durable
    across power loss (NORMAL in WAL mode may lose the last commits); foreign keys are off by
    default in SQLite; busy_timeout makes a second writer wait instead of failing at once.

    busy_timeout alone is not enough: a transaction that read, then writes after another
    connection committed, holds a stale snapshot, and SQLite fails it at once ("database is
    locked", SQLITE_BUSY_SNAPSHOT) instead of waiting. So SQLAlchemy, not the sqlite3 module,
    emits BEGIN (the recipe in SQLAlchemy's pysqlite docs), and a connection with the LOCK_EARLY
    execution option begins with BEGIN IMMEDIATE: it takes the write lock first, waiting for it
    up to busy_timeout, and so never reads a snapshot it cannot write on.
    """

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from the sqlite3 module
        cursor = dbapi_connection.cursor()
        try:
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(LOCK_EARLY, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
