"""`deshi webhook add | list | remove`: the secret is printed once, listings never show it,
the destination policy of the API applies, and every change is audited as the CLI operator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from deshi.cli.main import app
from deshi.db import create_db_engine
from deshi.db.tables import AuditEvent

CHEAP = "fast-insecure"


def _run(db: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [*args, "--db", db], env=env)


def _json(db: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = _run(db, *args, "--json", env=env)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.fixture
def process_id(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DESHI_PASSWORD_HASH_PROFILE", CHEAP)
    assert _run(db_url, "init").exit_code == 0
    department = _json(db_url, "department", "create", "Claims")
    process = _json(
        db_url, "process", "create", "--department", str(department["id"]), "--name", "Triage",
        "--labels", "a,b",
    )  # fmt: skip
    return str(process["id"])


def test_a_webhook_is_added_listed_and_removed(db_url: str, process_id: str) -> None:
    allow = {"DESHI_WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
    added = _json(
        db_url, "webhook", "add", "http://127.0.0.1:9/hook", "--process", process_id,
        "--event", "item.completed", env=allow,
    )  # fmt: skip
    assert added["secret"].startswith("whsec_") and added["events"] == ["item.completed"]

    listed = _json(db_url, "webhook", "list", "--process", process_id)
    assert [h["id"] for h in listed["webhooks"]] == [added["id"]]
    assert "secret" not in listed["webhooks"][0]

    removed = _json(db_url, "webhook", "remove", str(added["id"]), "--process", process_id)
    assert removed == {"id": added["id"], "removed": True}
    assert _json(db_url, "webhook", "list", "--process", process_id) == {"webhooks": []}

    engine = create_db_engine(db_url)
    with Session(engine) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("webhook.%")).order_by(AuditEvent.seq)
        ).all()
        assert [(e.action, e.actor.startswith("cli:")) for e in events] == [
            ("webhook.create", True),
            ("webhook.delete", True),
        ]
        assert all("whsec_" not in json.dumps(e.after) for e in events)
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9/hook", "Error: url: "),  # loopback: not allow-listed here
        ("ftp://example.com/hook", "Error: url: "),
        ("http://user:secret@example.com/hook", "Error: url: "),
    ],
)
def test_a_refused_destination_is_one_line(
    db_url: str, process_id: str, url: str, message: str
) -> None:
    result = _run(db_url, "webhook", "add", url, "--process", process_id)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert _json(db_url, "webhook", "list", "--process", process_id) == {"webhooks": []}


def test_an_unknown_process_or_webhook_is_one_line(db_url: str, process_id: str) -> None:
    missing = _run(db_url, "webhook", "list", "--process", "999")
    assert missing.exit_code == 1 and missing.output.strip() == "Error: process 999 not found"
    gone = _run(db_url, "webhook", "remove", "5", "--process", process_id)
    assert gone.exit_code == 1 and gone.output.strip() == "Error: webhook 5 not found"
