"""`deshi process update` refuses what the API refuses, in one line; so does a bad setting."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deshi.cli.main import app


@pytest.fixture
def workspace(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database after `deshi init` with one department and one process (id 1)."""
    monkeypatch.setenv("DESHI_PASSWORD_HASH_PROFILE", "fast-insecure")
    for args in (
        ["init"],
        ["department", "create", "Ops"],
        ["process", "create", "--department", "1", "--name", "p"],
    ):
        result = CliRunner().invoke(app, [*args, "--db", db_url])
        assert result.exit_code == 0, result.output
    return db_url


def test_who_may_add_labels_is_set_from_the_cli(workspace: str) -> None:
    args = ["process", "update", "1", "--new-labels", "owners", "--json", "--db", workspace]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["new_labels"] == "owners"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--arms", '{"humans": 1}', "unknown arm 'humans'"),
        ("--arms", '{"human_only": 0.5, "ai_led": 0.2}', "sum to 1"),
        ("--arms", '{"human_only": 1e400}', "finite"),
        ("--rules", '[{"pattern": "(a)\\\\1"}]', "RE2"),
        ("--new-labels", "anyone", "new_labels"),
    ],
)
def test_bad_process_settings_are_one_line_and_exit_1(
    workspace: str, option: str, value: str, message: str
) -> None:
    result = CliRunner().invoke(app, ["process", "update", "1", option, value, "--db", workspace])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and message in line, line


def test_a_short_secret_key_stops_a_command_at_start_up_with_one_line(
    workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESHI_SECRET_KEY", "too short a key")
    result = CliRunner().invoke(app, ["process", "list", "--db", workspace])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: DESHI_SECRET_KEY: ") and "at least 32 bytes" in line
    assert "too short a key" not in result.output
