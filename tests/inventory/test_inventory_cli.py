"""`deshi inventory add | list`: a round trip through a real database, audited; one-line errors."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli.main import app
from deshi.db import transaction
from deshi.db.tables import AuditEvent
from deshi.processes.service import create_department

runner = CliRunner()


def _department(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        return create_department(session, actor="test", name="Back office").id


def _list(db_url: str, department: int, *extra: str) -> list[str]:
    return ["inventory", "list", "--department", str(department), "--db", db_url, *extra]


def _add(db_url: str, department: int, name: str, *extra: str) -> list[str]:
    return [
        "inventory",
        "add",
        "--department",
        str(department),
        "--name",
        name,
        "--monthly-volume",
        "1200",
        "--minutes",
        "5",
        "--exception-rate",
        "0.25",
        "--hourly-rate",
        "30",
        "--db",
        db_url,
        *extra,
    ]


def test_add_then_list_round_trips_ranked_and_audited(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    department = _department(session_factory)
    low = runner.invoke(app, _add(db_url, department, "refund checks", "--measurability", "2"))
    high = runner.invoke(
        app, _add(db_url, department, "ticket routing", "--measurability", "5", "--notes", "hi")
    )
    assert low.exit_code == 0, low.output
    assert high.exit_code == 0, high.output

    listed = runner.invoke(app, _list(db_url, department))
    assert listed.exit_code == 0, listed.output
    assert listed.output.index("ticket routing") < listed.output.index("refund checks")
    assert "design d0-14" in listed.output
    assert "USD/month" in listed.output

    as_json = runner.invoke(app, _list(db_url, department, "--json"))
    ranked = json.loads(as_json.output)
    assert [r["candidate"]["name"] for r in ranked] == ["ticket routing", "refund checks"]
    # 1200 * 12 * 5 / 60 * (1 - 0.25) * 0.5 * 30 = 13,500 a year
    assert ranked[0]["expected_yearly_savings"] == 13_500
    assert ranked[0]["candidate"]["notes"] == "hi"
    assert ranked[0]["candidate"]["created_by"].startswith("cli:")

    with session_factory() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("inventory.%"))
        ).all()
    assert actions == ["inventory.create", "inventory.create"]


def test_bad_figures_and_unknown_departments_are_one_line_errors(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    department = _department(session_factory)
    bad = runner.invoke(
        app, _add(db_url, department, "x", "--measurability", "0", "--exception-rate", "2")
    )
    assert bad.exit_code == 1
    assert bad.output.startswith("Error: exception_rate")
    missing = runner.invoke(app, _add(db_url, 999, "x", "--measurability", "3"))
    assert missing.exit_code == 1
    assert "department 999 not found" in missing.output
    empty = runner.invoke(app, _list(db_url, department))
    assert "no candidates yet" in empty.output
