"""`deshi process labels`: readable label names per language, set and listed from a script."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deshi.cli.main import app


@pytest.fixture
def workspace(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database after `deshi init` with one process (id 1) labelled card_arrival, refund."""
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


def _labels(workspace: str, *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["process", "labels", "1", *args, "--json", "--db", workspace])
    assert result.exit_code == 0, result.output
    labels: list[dict[str, object]] = json.loads(result.stdout)["labels"]
    return labels


def test_names_are_set_per_language_and_listed(workspace: str) -> None:
    _labels(workspace, "--name", "card_arrival=Card has not arrived")
    shown = _labels(workspace, "--lang", "ja", "--name", "card_arrival=カード未着")
    assert shown == [
        {"code": "card_arrival", "names": {"en": "Card has not arrived", "ja": "カード未着"}},
        {"code": "refund", "names": {}},
    ]
    assert _labels(workspace, "--name", "card_arrival=")[0]["names"] == {"ja": "カード未着"}


def test_the_table_shows_each_language(workspace: str) -> None:
    args = ["process", "labels", "1", "--lang", "ja", "--name", "refund=返金", "--db", workspace]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "refund" in result.stdout and "返金" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "nope=Nope"], "'nope' is not a label"),
        (["--lang", "fr", "--name", "refund=Remboursement"], "unknown language 'fr'"),
        (["--name", "refund"], "is not code=name"),
    ],
)
def test_bad_names_are_one_line_and_exit_1(workspace: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["process", "labels", "1", *args, "--db", workspace])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and message in line, line
