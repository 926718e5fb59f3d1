"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from deshi.cli.main import app


@pytest.fixture
def labelled_workspace(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database after `deshi init` with one process (id 1) labelled card_arrival, refund, set
    up through the CLI as an admin would; returns its URL."""
    monkeypatch.setenv("DESHI_PASSWORD_HASH_PROFILE", "fast-insecure")
    for args in (
        ["init"],
        ["department", "create", "Ops"],
        ["process", "create", "--department", "1", "--name", "p"],
        ["process", "update", "1", "--labels", "card_arrival,refund"],
    ):
        result = CliRunner().invoke(app, [*args, "--db", db_url])
        assert result.exit_code == 0, result.output
    return db_url
