from __future__ import annotations

from collections.abc import Callable

import typer
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner
from unscoped_events import append_unscoped

from deshi.audit import ObjectRef, record_event
from deshi.audit.chain import GENESIS_HASH
from deshi.cli import audit


def _cli() -> typer.Typer:
    app = typer.Typer()
    audit.register(app)
    return app


def _append(session_factory: sessionmaker[Session], count: int) -> None:
    with session_factory() as session, session.begin():
        for i in range(count):
            record_event(
                session,
                actor="user:1",
                action="x.update",
                obj=ObjectRef("x", str(i)),
                after={"i": i},
            )


def test_verify_exits_0_when_intact(db_url: str, session_factory: sessionmaker[Session]) -> None:
    _append(session_factory, 3)
    result = CliRunner().invoke(_cli(), ["audit", "verify", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "intact: 3 events" in result.output


def test_verify_counts_events_hashed_without_their_department(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        prev = append_unscoped(session, 1, GENESIS_HASH, department_id=1)
        append_unscoped(session, 2, prev, department_id=1)
    _append(session_factory, 1)
    result = CliRunner().invoke(_cli(), ["audit", "verify", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "intact: 3 events" in result.output
    assert "2 older events were hashed without their department" in result.output


def test_verify_exits_1_naming_the_first_bad_event(
    db_url: str, session_factory: sessionmaker[Session], tamper: Callable[[str], None]
) -> None:
    _append(session_factory, 5)
    tamper("""UPDATE audit_events SET "after" = '{"i": 99}' WHERE seq = 3""")
    result = CliRunner().invoke(_cli(), ["audit", "verify", "--db", db_url])
    assert result.exit_code == 1
    assert "BROKEN at event 3" in result.output


def test_verify_exits_1_on_an_uninitialised_database(db_url: str) -> None:
    result = CliRunner().invoke(_cli(), ["audit", "verify", "--db", db_url])
    assert result.exit_code == 1
    assert "deshi init" in result.output


def test_verify_says_whether_the_chain_is_keyed(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    _append(session_factory, 2)
    plain = CliRunner().invoke(_cli(), ["audit", "verify", "--db", db_url])
    assert "Not keyed: set DESHI_AUDIT_KEY" in plain.output
    key = {"DESHI_AUDIT_KEY": "k" * 32}
    keyed = CliRunner().invoke(_cli(), ["audit", "verify", "--db", db_url], env=key)
    assert keyed.exit_code == 0 and "Not keyed yet: the next event" in keyed.output
