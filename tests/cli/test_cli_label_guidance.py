"""`deshi process update --label-guidance`: drafting guidance per label set, read from a file,
cleared and refused from a script, as the API does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deshi.cli.main import app

APOLOGISE = "Apologise once, then give the tracking link."


def _update(db: str, *args: str) -> Any:
    command = ["process", "update", "1", *args, "--json", "--db", db]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["label_guidance"]


def _listed(db: str) -> Any:
    result = CliRunner().invoke(app, ["process", "list", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["processes"][0]["label_guidance"]


def test_guidance_is_set_from_options_and_a_file_then_cleared(
    labelled_workspace: str, tmp_path: Path
) -> None:
    assert _update(labelled_workspace, "--label-guidance", f"card_arrival={APOLOGISE}  ") == {
        "card_arrival": APOLOGISE
    }
    file = tmp_path / "guidance.json"
    file.write_text(json.dumps({"refund": "返金は10日以内と案内する。"}), encoding="utf-8")
    assert _update(labelled_workspace, "--label-guidance-file", str(file)) == {
        "card_arrival": APOLOGISE,
        "refund": "返金は10日以内と案内する。",
    }
    assert _update(labelled_workspace, "--clear-label-guidance", "card_arrival") == {
        "refund": "返金は10日以内と案内する。"
    }
    assert _update(labelled_workspace, "--label-guidance", "refund=") == {}
    assert _listed(labelled_workspace) == {}


def test_other_options_leave_the_guidance_alone(labelled_workspace: str) -> None:
    _update(labelled_workspace, "--label-guidance", f"refund={APOLOGISE}")
    assert _update(labelled_workspace, "--mode", "assist") == {"refund": APOLOGISE}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label-guidance", "nope=Be brief."], "'nope' is not a label"),
        (["--label-guidance", "refund"], "is not LABEL=text"),
        (["--label-guidance", "refund=" + "x" * 2001], "at most 2000 characters"),
        (["--label-guidance-file", "missing.json"], "--label-guidance-file"),
    ],
)
def test_bad_guidance_is_one_line_and_exit_1(
    labelled_workspace: str, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["process", "update", "1", *args, "--db", labelled_workspace])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and message in line, line


def test_a_file_that_is_not_an_object_is_refused(labelled_workspace: str, tmp_path: Path) -> None:
    file = tmp_path / "guidance.json"
    file.write_text('["refund"]', encoding="utf-8")
    args = [
        "process",
        "update",
        "1",
        "--label-guidance-file",
        str(file),
        "--db",
        labelled_workspace,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "not {" in result.stderr, result.output
