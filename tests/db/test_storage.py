from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from deshi.db.models import Department, Item, Process
from deshi.items.models import ItemStatus
from deshi.processes.models import Mode


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
