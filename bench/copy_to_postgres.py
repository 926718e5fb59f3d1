"""Copy a SQLite workspace into a new PostgreSQL database, so that the benchmarks that take an
existing workspace (workbench_bench.py on the one `deshi demo` builds) run on PostgreSQL too.

    .venv/bin/python bench/copy_to_postgres.py --db sqlite:////tmp/demo-wb/deshi.db \\
        --to postgresql+psycopg://postgres@127.0.0.1:5432/deshi_wb

The target database is created (it must not exist), migrated to the head revision by Alembic as
`deshi init` would (tables, indexes, the audit log's append-only triggers), and filled table by
table in foreign-key order, rows as SQLAlchemy reads them; each identity sequence then continues
after the highest id copied. The audit chain's hashes are copied as stored, so `deshi audit
verify` on the copy checks the same chain. The knowledge passages are indexed for full-text
search as the knowledge base does it (`add_to_index`: PostgreSQL's stored `tsv`, which is outside
the ORM's tables and so not copied). `deshi backup` is not the tool here: its SQLite copy
restores into SQLite only.
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import Connection, Integer, Table, create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import Base, KnowledgePassage
from deshi.knowledge.lexical import add_to_index

CHUNK = 2_000  # rows read and inserted at a time (a demo's model files are 3–15 MB a row)


def create_database(url: str) -> None:
    """Create the target database through the server's maintenance database."""
    target = make_url(url)
    if not target.database:
        raise SystemExit("--to must name a database")
    admin = create_engine(
        target.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def copy_rows(source_url: str, target_url: str) -> dict[str, int]:
    """Every table's rows, parents before children; the number copied per table."""
    source, target = create_db_engine(source_url), create_db_engine(target_url)
    counts: dict[str, int] = {}
    try:
        with source.connect() as read, target.begin() as write:
            for table in Base.metadata.sorted_tables:
                rows = read.execute(select(table)).mappings()
                counts[table.name] = 0
                while chunk := [dict(row) for row in rows.fetchmany(CHUNK)]:
                    write.execute(insert(table), chunk)
                    counts[table.name] += len(chunk)
                _continue_sequence(write, table)
    finally:
        source.dispose()
        target.dispose()
    return counts


def index_passages(url: str) -> None:
    """Index the copied current passages for full-text search, as the knowledge base does."""
    engine = create_db_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            current = KnowledgePassage.is_current.is_(True)
            columns = (KnowledgePassage.id, KnowledgePassage.tokens, KnowledgePassage.department_id)
            add_to_index(session, session.execute(select(*columns).where(current)).all())
    finally:
        engine.dispose()


def _continue_sequence(write: Connection, table: Table) -> None:
    """Make the next generated id follow the highest one copied."""
    key = [c for c in table.primary_key.columns if isinstance(c.type, Integer)]
    if len(key) != 1:
        return
    sequence = write.execute(
        text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": key[0].name}
    ).scalar()
    if sequence is not None:
        highest = f'SELECT COALESCE(max("{key[0].name}"), 0) + 1 FROM "{table.name}"'
        write.execute(text(f"SELECT setval(:s, ({highest}), false)"), {"s": sequence})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite URL of the workspace to copy")
    parser.add_argument("--to", required=True, help="PostgreSQL URL of a database to create")
    args = parser.parse_args()
    if make_url(args.db).get_backend_name() != "sqlite":
        parser.error("--db must be a SQLite URL")
    if make_url(args.to).get_backend_name() != "postgresql":
        parser.error("--to must be a PostgreSQL URL")
    started = time.perf_counter()
    create_database(args.to)
    engine = create_db_engine(args.to)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    counts = copy_rows(args.db, args.to)
    index_passages(args.to)
    total = sum(counts.values())
    print(f"copied {total:,} rows of {len(counts)} tables in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
