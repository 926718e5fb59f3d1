"""Ids beyond what an id column holds are refused by the CLI's argument parsing, not by a
database error with a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from deshi.cli.main import app

HUGE = str(2**63)


@pytest.mark.parametrize(
    "args",
    [
        ["model", "list", "--process", HUGE],
        ["model", "rollback", "--process", "1", "--version", HUGE],
        ["kpis", "--process", HUGE],
        ["warnings", "--process", HUGE],
        ["process", "archive", HUGE],
        ["department", "rename", HUGE, "x"],
        ["role", "revoke", HUGE],
        ["token", "revoke", HUGE],
        ["inventory", "list", "--department", HUGE],
    ],
)
def test_an_id_too_large_for_the_database_is_a_usage_error(args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "--db", "sqlite:///unused.db"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "2147483647" in result.output
