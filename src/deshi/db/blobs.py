"""Reading large binary values (model artifacts) without the text protocol's copy.

PostgreSQL sends a `bytea` in the text protocol as hex: twice its size, encoded by the server
and decoded by the client. A 123 MB model artifact took 1.1 s to fetch that way and 0.37 s in
binary format (psycopg, on the benchmark machine), and a restoring agent waited on it
(docs/benchmarks.md, "Agent restore"). SQLAlchemy has no option for binary results, so on
psycopg the statement runs on a binary cursor of the session's own connection, inside its
transaction; elsewhere (SQLite) it runs as usual.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session


def fetch_binary(session: Session, query: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows of `query`, its binary columns as `bytes`; in binary format on psycopg. Pending
    changes are flushed first, as `session.execute` does."""
    if session.autoflush:
        session.flush()
    connection = session.connection()
    driver = connection.connection.driver_connection
    if connection.dialect.driver != "psycopg" or driver is None:
        return [tuple(row) for row in connection.execute(query)]
    # Lists in IN clauses are expanded into the text, as SQLAlchemy does when it executes.
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    with driver.cursor(binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        return [tuple(row) for row in cursor.fetchall()]
