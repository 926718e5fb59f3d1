"""`deshi process labels`: readable label names per language, set and listed from a script."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deshi.cli.main import app


def _labels(db: str, *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["process", "labels", "1", *args, "--json", "--db", db])
    assert result.exit_code == 0, result.output
    labels: list[dict[str, object]] = json.loads(result.stdout)["labels"]
    return labels


def test_names_are_set_per_language_and_listed(labelled_workspace: str) -> None:
    _labels(labelled_workspace, "--name", "card_arrival=Card has not arrived")
    shown = _labels(labelled_workspace, "--lang", "ja", "--name", "card_arrival=カード未着")
    assert shown == [
        {"code": "card_arrival", "names": {"en": "Card has not arrived", "ja": "カード未着"}},
        {"code": "refund", "names": {}},
    ]
    assert _labels(labelled_workspace, "--name", "card_arrival=")[0]["names"] == {
        "ja": "カード未着"
    }


def test_the_table_shows_each_language(labelled_workspace: str) -> None:
    args = [
        "process",
        "labels",
        "1",
        "--lang",
        "ja",
        "--name",
        "refund=返金",
        "--db",
        labelled_workspace,
    ]
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
def test_bad_names_are_one_line_and_exit_1(
    labelled_workspace: str, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["process", "labels", "1", *args, "--db", labelled_workspace])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and message in line, line
