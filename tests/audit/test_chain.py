from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import ObjectRef, record_event, verify_chain
from deshi.audit.chain import GENESIS_HASH, canonical_json
from deshi.db.models import AuditEvent, Department

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
