"""`deshi user list` shows who still holds a one-time password: `must_change_password` in
`--json`, a "password" column in the table ("must change", "own", "-" for a service account)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from deshi.cli.main import app
from deshi.settings import Settings
from deshi.web import create_app

CHEAP = "fast-insecure"
MINE = "a password only Ken knows"


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


def _deshi(db: str, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--db", db], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


def _flags(db: str) -> dict[str, Any]:
    users = json.loads(_deshi(db, "user", "list", "--json"))["users"]
    return {u["email"]: u["must_change_password"] for u in users}


def _password_column(db: str) -> dict[str, str]:
    """email → the table's "password" cell."""
    lines = _deshi(db, "user", "list").splitlines()
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
    ken = json.loads(_deshi(workspace, "user", "create", "ken@example.com", "--json"))
    _deshi(workspace, "user", "create", "crm@example.com", "--service", "--json")

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
        json={"current_password": ken["password"], "new_password": MINE},
        auth=("ken@example.com", ken["password"]),
    )
    assert changed.status_code == 204, changed.text
    assert _flags(workspace)["ken@example.com"] is False
    assert _password_column(workspace)["ken@example.com"] == "own"
