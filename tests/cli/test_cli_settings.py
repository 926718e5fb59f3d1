"""A bad DESHI_* variable is one clear line and exit 2 for every command that reads settings."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from deshi.cli.main import app


@pytest.mark.parametrize(
    "command",
    [
        ["worker", "--once"],
        ["audit", "verify"],
        ["kpis", "--process", "1"],
        ["serve", "--port", "1"],
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    db_url: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESHI_MAX_BATCH_ITEMS", "5000")

    result = CliRunner().invoke(app, [*command, "--db", db_url])

    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "Error: DESHI_MAX_BATCH_ITEMS: Input should be less than or equal to 2000"
    ]
    assert result.exception is None or isinstance(result.exception, SystemExit)
