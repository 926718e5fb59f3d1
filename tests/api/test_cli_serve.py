from __future__ import annotations

from typer.testing import CliRunner

from deshi.cli.main import app


def test_serve_is_a_documented_command() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--db", "--no-worker"):
        assert option in result.output
