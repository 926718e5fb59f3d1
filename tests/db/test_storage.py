from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import Department, Item, Process
from deshi.domain import ItemStatus, Mode


def _process(session: Session, name: str = "inquiry routing") -> Process:
    department = Department(name=f"dept of {name}")
    session.add(department)
    session.flush()
    process = Process(department_id=department.id, name=name, labels=["a", "b"])
    session.add(process)
    session.flush()
    return process


def test_sqlite_connections_have_durable_pragmas(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("synchronous") == 2  # FULL
        assert pragma("busy_timeout") == 5000


def _other_sqlite_connection(engine: Engine) -> sqlite3.Connection:
    """A second connection to the same file that never waits for a lock."""
    assert engine.url.database is not None
    return sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)


@pytest.mark.parametrize("lock_early", [True, False])
def test_sqlite_transactions_take_the_write_lock_when_asked(
    engine: Engine, session_factory: sessionmaker[Session], lock_early: bool
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    other = _other_sqlite_connection(engine)
    try:
        with transaction(session_factory, lock_early=lock_early) as session:
            session.scalars(select(Department)).all()  # a read only, so far
            if lock_early:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            else:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
    finally:
        other.close()


def test_sqlite_read_then_write_after_another_commit(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """Why lock_early exists: a deferred transaction that read, then writes after another
    connection committed, fails at once instead of waiting for the lock."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    other = _other_sqlite_connection(engine)
    try:
        with (
            pytest.raises(sqlalchemy.exc.OperationalError, match="locked"),
            transaction(session_factory, lock_early=False) as session,
        ):
            session.scalars(select(Department)).all()
            other.execute(
                "INSERT INTO departments (name, created_at) VALUES ('elsewhere', '2026-01-01')"
            )
            _process(session)
    finally:
        other.close()
    with engine.connect() as conn:  # the other writer's row is there, ours is not
        assert conn.exec_driver_sql("SELECT name FROM departments").scalars().all() == ["elsewhere"]


def test_concurrent_read_then_write_transactions_all_commit(
    session_factory: sessionmaker[Session],
) -> None:
    def read_then_write(i: int) -> None:
        with transaction(session_factory) as session:
            session.scalars(select(Department)).all()
            time.sleep(0.02)  # widen the gap between the read and the write
            session.add(Department(name=f"department {i}"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(read_then_write, range(8)))
    with transaction(session_factory) as session:
        assert len(session.scalars(select(Department)).all()) == 8


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(Item(process_id=999_999, external_id="x", text="t"))
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        session.flush()


def test_external_id_is_unique_per_process(session: Session) -> None:
    first, second = _process(session, "one"), _process(session, "two")
    session.add_all(
        [
            Item(process_id=first.id, external_id="E-1", text="a"),
            Item(process_id=second.id, external_id="E-1", text="same id, other process"),
        ]
    )
    session.flush()
    session.add(Item(process_id=first.id, external_id="E-1", text="duplicate"))
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        session.flush()


def test_process_policy_and_json_round_trip(session: Session) -> None:
    process = _process(session)
    process.mode = Mode.AUTOPILOT
    process.arms = {"human": 0.2, "assist": 0.3, "ai": 0.5}
    process.always_human_rules = [{"field": "amount", "op": ">", "value": 10000}]
    session.commit()
    session.expire_all()
    stored = session.get_one(Process, process.id)
    assert stored.mode is Mode.AUTOPILOT
    assert stored.arms == {"human": 0.2, "assist": 0.3, "ai": 0.5}
    assert stored.always_human_rules[0]["value"] == 10000
    assert stored.error_budget == 0.01 and stored.currency == "USD"


def test_datetimes_come_back_aware_in_utc(session: Session) -> None:
    tokyo = timezone(timedelta(hours=9))
    process = _process(session)
    item = Item(
        process_id=process.id, text="t", created_at=datetime(2024, 4, 1, 9, 0, tzinfo=tokyo)
    )
    session.add(item)
    session.commit()
    session.expire_all()
    stored = session.scalars(select(Item)).one()
    assert stored.created_at == datetime(2024, 4, 1, 0, 0, tzinfo=UTC)
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.status is ItemStatus.RECEIVED


def test_naive_datetimes_are_refused(session: Session) -> None:
    session.add(Department(name="d", created_at=datetime(2024, 1, 1)))
    with pytest.raises(sqlalchemy.exc.StatementError, match="naive datetime"):
        session.flush()


def test_enum_columns_refuse_unknown_values(session: Session) -> None:
    process = _process(session)
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        session.connection().exec_driver_sql(
            "INSERT INTO items (process_id, text, fields, status, created_at) "
            f"VALUES ({process.id}, 't', '{{}}', 'lost', '2024-01-01 00:00:00')"
        )
