"""The administration commands as a script uses them: `--json` prints one object, what they
create works over the API at once, and every change is audited as the CLI operator. `deshi user
list` shows who still holds a one-time password (`must_change_password` in `--json`, a
"password" column in the table: "must change", "own", "-" for a service account)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli.main import app
from deshi.db.tables import AuditEvent
from deshi.settings import Settings
from deshi.web import create_app

CHEAP = "fast-insecure"


@pytest.fixture
def workspace(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database after `deshi init` (the first admin only)."""
    monkeypatch.setenv("DESHI_PASSWORD_HASH_PROFILE", CHEAP)
    result = CliRunner().invoke(app, ["init", "--db", db_url])
    assert result.exit_code == 0, result.output
    return db_url


@pytest.fixture
def api(workspace: str) -> Iterator[TestClient]:
    settings = Settings(database_url=workspace, password_hash_profile=CHEAP)
    with TestClient(create_app(settings)) as client:
        yield client


def deshi(db: str, *args: str) -> dict[str, Any]:
    """Run `deshi ARGS --json --db DB`; the one JSON object it printed."""
    result = CliRunner().invoke(app, [*args, "--json", "--db", db])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def test_the_contract_sets_up_a_team_that_works_over_the_api(
    workspace: str, api: TestClient
) -> None:
    department = deshi(workspace, "department", "create", "Customer care")
    assert set(department) == {"id", "name"} and department["name"] == "Customer care"
    person = deshi(workspace, "user", "create", "hana@example.com", "--name", "Hana")
    assert person["id"] > 1 and len(person["password"]) >= 12
    bot = deshi(workspace, "user", "create", "crm@example.com", "--service")
    assert bot["password"] is None
    where = ["--department", str(department["id"])]
    deshi(workspace, "role", "grant", "hana@example.com", *where, "--role", "reviewer")
    deshi(workspace, "role", "grant", "crm@example.com", *where, "--role", "owner")
    token = deshi(workspace, "token", "issue", "crm@example.com", "--name", "crm")
    assert token["token"].startswith("dsh_") and isinstance(token["id"], int)
    process = deshi(
        workspace, "process", "create", *where, "--name", "routing", "--labels", "refund,other"
    )

    machine = {"Authorization": f"Bearer {token['token']}"}
    sent = api.post(f"/processes/{process['id']}/items", json={"text": "refund?"}, headers=machine)
    assert sent.status_code == 201, sent.text
    claimed = api.post(
        f"/processes/{process['id']}/queue/claim", auth=("hana@example.com", person["password"])
    )
    assert claimed.status_code == 200, claimed.text


def test_lists_print_one_object_each(workspace: str) -> None:
    department = deshi(workspace, "department", "create", "Finance")
    deshi(workspace, "user", "create", "ken@example.com")
    deshi(workspace, "role", "grant", "ken@example.com", "--department", "1", "--role", "auditor")
    deshi(workspace, "token", "issue", "ken@example.com", "--name", "laptop")
    deshi(workspace, "process", "create", "--department", "1", "--name", "invoices")

    assert [d["name"] for d in deshi(workspace, "department", "list")["departments"]] == ["Finance"]
    users = deshi(workspace, "user", "list")["users"]
    assert [u["email"] for u in users] == ["admin@localhost", "ken@example.com"]
    assert users[1]["roles"][0]["role"] == "auditor"
    roles = deshi(workspace, "role", "list", "--department", str(department["id"]))["roles"]
    assert [(r["email"], r["role"]) for r in roles] == [("ken@example.com", "auditor")]
    [token] = deshi(workspace, "token", "list")["tokens"]
    assert (token["name"], token["owner_email"], token["last_used_at"]) == (
        "laptop",
        "ken@example.com",
        None,
    )
    assert "token" not in token
    [process] = deshi(workspace, "process", "list")["processes"]
    assert process["name"] == "invoices" and process["mode"] == "shadow"


def test_deactivating_stops_the_users_tokens(workspace: str, api: TestClient) -> None:
    deshi(workspace, "department", "create", "Ops")
    deshi(workspace, "user", "create", "ops@example.com")
    deshi(workspace, "role", "grant", "ops@example.com", "--department", "1", "--role", "owner")
    token = deshi(workspace, "token", "issue", "ops@example.com", "--name", "n")["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/processes", headers=headers).status_code == 200

    assert deshi(workspace, "user", "deactivate", "ops@example.com")["is_active"] is False
    assert api.get("/processes", headers=headers).status_code == 401

    assert deshi(workspace, "user", "reactivate", "ops@example.com")["is_active"] is True
    assert api.get("/processes", headers=headers).status_code == 200


def test_revoke_archive_rename_reset_and_update(workspace: str, api: TestClient) -> None:
    deshi(workspace, "department", "create", "Ops")
    user = deshi(workspace, "user", "create", "ops@example.com")
    grant = deshi(
        workspace, "role", "grant", "ops@example.com", "--department", "1", "--role", "owner"
    )
    token = deshi(workspace, "token", "issue", "ops@example.com", "--name", "n")
    process = deshi(workspace, "process", "create", "--department", "1", "--name", "p")

    changed = deshi(
        workspace,
        "process",
        "update",
        str(process["id"]),
        "--error-budget",
        "0.02",
        "--mode",
        "assist",
        "--sensitive-labels",
        "fraud",
        "--rules",
        '[{"pattern": "lawyer"}]',
        "--running-cost",
        "150",
    )
    assert (changed["error_budget"], changed["mode"], changed["sensitive_labels"]) == (
        0.02,
        "assist",
        ["fraud"],
    )
    assert changed["always_human_rules"] == [{"pattern": "lawyer"}]
    assert changed["running_cost_per_week"] == 150.0
    new_password = deshi(workspace, "user", "reset-password", "ops@example.com")["password"]
    assert new_password != user["password"]
    assert api.get("/processes", auth=("ops@example.com", new_password)).status_code == 200
    assert api.get("/processes", auth=("ops@example.com", user["password"])).status_code == 401
    assert deshi(workspace, "token", "revoke", str(token["id"]))["revoked"] is True
    assert deshi(workspace, "role", "revoke", str(grant["id"]))["revoked"] is True
    assert deshi(workspace, "process", "archive", str(process["id"]))["archived_at"]
    assert deshi(workspace, "department", "rename", "1", "Operations")["name"] == "Operations"
    assert deshi(workspace, "department", "archive", "1")["archived_at"]
    assert deshi(workspace, "department", "list")["departments"] == []


def test_changes_are_audited_as_the_cli_operator(
    workspace: str, session_factory: sessionmaker[Session]
) -> None:
    deshi(workspace, "department", "create", "Ops")
    deshi(workspace, "department", "rename", "1", "Operations")
    with session_factory() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith("department."))
        ).all()
    assert [e.action for e in events] == ["department.create", "department.rename"]
    assert all(e.actor.startswith("cli:") for e in events)
    assert (events[1].before["name"], events[1].after["name"]) == ("Ops", "Operations")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["department", "create", "Ops"], "already exists"),
        (["user", "create", "nobody"], "not an email address"),
        (["role", "grant", "ghost@example.com", "--role", "admin"], "no user with email"),
        (["process", "update", "1", "--error-budget", "2"], "error_budget"),
        (["process", "update", "1", "--rules", "not json"], "--rules: not JSON"),
    ],
)
def test_a_refusal_is_one_line_and_exit_1(workspace: str, args: list[str], message: str) -> None:
    deshi(workspace, "department", "create", "Ops")
    deshi(workspace, "process", "create", "--department", "1", "--name", "p")
    result = CliRunner().invoke(app, [*args, "--db", workspace])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and message in line


# --- who still holds a one-time password ------------------------------------------------------


def _flags(db: str) -> dict[str, Any]:
    """email → `must_change_password` in `deshi user list --json`."""
    users = deshi(db, "user", "list")["users"]
    return {u["email"]: u["must_change_password"] for u in users}


def _password_column(db: str) -> dict[str, str]:
    """email → the table's "password" cell."""
    result = CliRunner().invoke(app, ["user", "list", "--db", db], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rows = [
        [cell.strip() for cell in re.split("[│┃]", line)[1:-1]]
        for line in lines
        if line.startswith(("│", "┃"))
    ]
    header, *body = rows
    column = header.index("password")
    return {row[1]: row[column] for row in body}


def test_the_list_shows_who_must_still_change_a_one_time_password(
    workspace: str, api: TestClient
) -> None:
    ken = deshi(workspace, "user", "create", "ken@example.com")
    deshi(workspace, "user", "create", "crm@example.com", "--service")

    assert _flags(workspace) == {
        "admin@localhost": True,  # deshi init printed it: a one-time password too
        "ken@example.com": True,
        "crm@example.com": False,
    }
    assert _password_column(workspace) == {
        "admin@localhost": "must change",
        "ken@example.com": "must change",
        "crm@example.com": "-",
    }

    changed = api.post(
        "/me/password",
        json={"current_password": ken["password"], "new_password": "a password only Ken knows"},
        auth=("ken@example.com", ken["password"]),
    )
    assert changed.status_code == 204, changed.text
    assert _flags(workspace)["ken@example.com"] is False
    assert _password_column(workspace)["ken@example.com"] == "own"
