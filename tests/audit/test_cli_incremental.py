"""`deshi audit verify` hashes every event and remembers the verified prefix; `--incremental`
hashes only the events after it."""

from __future__ import annotations

import json
from collections.abc import Callable

import typer
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.audit import ObjectRef, record_event
from deshi.cli import audit

Tamper = Callable[[str], None]


def _cli() -> typer.Typer:
    app = typer.Typer()
    audit.register(app)
    return app


def _append(session_factory: sessionmaker[Session], count: int) -> None:
    with session_factory() as session, session.begin():
        for i in range(count):
            record_event(session, actor="user:1", action="x.update", obj=ObjectRef("x", str(i)))


def _verify(db_url: str, *extra: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(_cli(), ["audit", "verify", "--db", db_url, "--json", *extra])
    return result.exit_code, json.loads(result.stdout)


def test_incremental_verify_hashes_only_events_after_the_full_check(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    _append(session_factory, 4)
    code, full = _verify(db_url)
    _append(session_factory, 2)
    code_after, incremental = _verify(db_url, "--incremental")
    assert code == 0 and full["checked"] == 4 and full["resumed_after"] == 0
    assert code_after == 0 and incremental["checked"] == 2 and incremental["resumed_after"] == 4
    assert incremental["head_seq"] == 6


def test_the_default_full_verify_finds_an_edit_the_incremental_one_does_not(
    db_url: str, session_factory: sessionmaker[Session], tamper: Tamper
) -> None:
    _append(session_factory, 4)
    assert _verify(db_url)[0] == 0
    tamper("UPDATE audit_events SET actor = 'user:9' WHERE seq = 2")
    code_incremental, incremental = _verify(db_url, "--incremental")
    code_full, full = _verify(db_url)
    assert code_incremental == 0 and incremental["ok"] is True
    assert code_full == 1 and full["first_bad_seq"] == 2


def test_incremental_text_output_says_what_was_skipped(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    _append(session_factory, 3)
    CliRunner().invoke(_cli(), ["audit", "verify", "--db", db_url])
    result = CliRunner().invoke(_cli(), ["audit", "verify", "--db", db_url, "--incremental"])
    assert result.exit_code == 0, result.output
    assert "events up to 3 were verified before; 0 hashed now" in result.output
