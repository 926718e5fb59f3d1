from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from unscoped_events import append_unscoped

from deshi.audit import ObjectRef, record_event, verify_chain
from deshi.audit.chain import GENESIS_HASH, EventFields, canonical_json
from deshi.db.tables import AuditEvent, Department

Tamper = Callable[[str], None]


def _append(session_factory: sessionmaker[Session], count: int, actor: str = "user:1") -> None:
    for i in range(count):
        with session_factory() as session, session.begin():
            record_event(
                session,
                actor=actor,
                action="process.update",
                obj=ObjectRef("process", str(i)),
                before={"mode": "shadow", "n": i},
                after={"mode": "assist", "n": i, "ratio": 0.1, "名前": "問い合わせ"},
            )


def test_appended_events_form_a_valid_chain(session_factory: sessionmaker[Session]) -> None:
    _append(session_factory, 5)
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        result = verify_chain(session)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert result.ok and result.checked == 5 and result.first_bad_seq is None
    assert result.head_hash == events[-1].hash


def test_empty_log_verifies(session: Session) -> None:
    result = verify_chain(session)
    assert result.ok and result.checked == 0 and result.head_hash == GENESIS_HASH


def test_event_commits_and_rolls_back_with_the_change(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        department = Department(name="finance")
        session.add(department)
        event = record_event(
            session,
            actor="user:1",
            action="department.create",
            obj=department,
            after={"name": "finance"},
        )
        assert (event.object_type, event.object_id) == ("departments", str(department.id))
        session.rollback()
    _append(session_factory, 1)
    with session_factory() as session:
        assert session.scalars(select(AuditEvent.seq)).all() == [1]
        assert session.scalars(select(Department)).all() == []
        assert verify_chain(session).ok


def test_changing_an_event_is_detected(
    session_factory: sessionmaker[Session], tamper: Tamper
) -> None:
    _append(session_factory, 4)
    tamper("""UPDATE audit_events SET "after" = '{"mode": "autopilot"}' WHERE seq = 2""")
    with session_factory() as session:
        result = verify_chain(session)
    assert not result.ok
    assert result.first_bad_seq == 2
    assert result.reason is not None and "altered" in result.reason


def test_changing_before_json_is_detected(
    session_factory: sessionmaker[Session], tamper: Tamper
) -> None:
    _append(session_factory, 3)
    tamper("""UPDATE audit_events SET "before" = NULL WHERE seq = 3""")
    with session_factory() as session:
        assert verify_chain(session).first_bad_seq == 3


def test_deleting_an_event_is_detected(
    session_factory: sessionmaker[Session], tamper: Tamper
) -> None:
    _append(session_factory, 4)
    tamper("DELETE FROM audit_events WHERE seq = 2")
    with session_factory() as session:
        result = verify_chain(session)
    assert not result.ok and result.first_bad_seq == 2
    assert result.reason is not None and "missing" in result.reason


def test_rehashed_event_breaks_the_link_to_its_successor(
    session_factory: sessionmaker[Session], tamper: Tamper
) -> None:
    _append(session_factory, 3)
    tamper(f"UPDATE audit_events SET hash = '{'f' * 64}' WHERE seq = 2")
    with session_factory() as session:
        assert verify_chain(session).first_bad_seq == 2


def _department_events(session_factory: sessionmaker[Session], names: list[str]) -> list[int]:
    """One department.create event per name; the departments' ids."""
    ids = []
    for name in names:
        with session_factory() as session, session.begin():
            department = Department(name=name)
            session.add(department)
            record_event(
                session, actor="user:1", action="department.create", obj=department, after={}
            )
            ids.append(department.id)
    return ids


@pytest.mark.parametrize("new_department", ["NULL", "other"])
def test_moving_an_event_out_of_its_department_is_detected(
    session_factory: sessionmaker[Session], tamper: Tamper, new_department: str
) -> None:
    finance, legal = _department_events(session_factory, ["finance", "legal"])
    target = str(legal) if new_department == "other" else "NULL"
    tamper(f"UPDATE audit_events SET department_id = {target} WHERE department_id = {finance}")
    with session_factory() as session:
        result = verify_chain(session)
    assert not result.ok and result.first_bad_seq == 1
    assert result.reason is not None and "altered" in result.reason


def test_events_hashed_before_departments_were_covered_verify_and_are_counted(
    session_factory: sessionmaker[Session], tamper: Tamper
) -> None:
    with session_factory() as session, session.begin():
        prev = append_unscoped(session, 1, GENESIS_HASH, department_id=7)
        append_unscoped(session, 2, prev, department_id=7)
    _department_events(session_factory, ["finance"])  # a new event links to the old head
    with session_factory() as session:
        result = verify_chain(session)
    assert result.ok and result.checked == 3 and result.unscoped == 2
    # Their contents stay protected; only their department is not.
    tamper("""UPDATE audit_events SET "after" = '{"name": "x"}' WHERE seq = 2""")
    with session_factory() as session:
        assert verify_chain(session).first_bad_seq == 2


def test_the_unscoped_form_is_the_one_older_events_were_hashed_with() -> None:
    fields = EventFields(
        seq=3,
        at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        actor="user:1",
        action="item.review",
        object_type="items",
        object_id="9",
        before=None,
        after={"label": "請求書"},
        department_id=4,
    )
    old_form = (
        '{"action":"item.review","actor":"user:1","after":{"label":"請求書"},'
        '"at":"2026-01-02T03:04:05+00:00","before":null,"object_id":"9",'
        '"object_type":"items","prev_hash":"p","seq":3}'
    )
    assert fields.canonical("p", scoped=False) == old_form
    assert fields.canonical("p") == old_form.replace('"object_id"', '"department_id":4,"object_id"')


def test_the_database_refuses_updates_and_deletes(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    _append(session_factory, 1)
    for sql in ("UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events"):
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
            engine.begin() as conn,
        ):
            conn.exec_driver_sql(sql)


def test_concurrent_appends_keep_the_chain_linear(session_factory: sessionmaker[Session]) -> None:
    threads, per_thread = 4, 15
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            _append(session_factory, per_thread, actor=f"worker:{n}")
        except BaseException as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with session_factory() as session:
        result = verify_chain(session)
    assert result.ok and result.checked == threads * per_thread


def test_canonical_json_ignores_key_order_and_refuses_nan() -> None:
    assert canonical_json({"b": 1, "a": [1, 2]}) == canonical_json({"a": [1, 2], "b": 1})
    assert canonical_json({"名前": "値"}) == '{"名前":"値"}'
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})
