"""`deshi process go-live`: runs the check at once and prints its verdict; `--stored` prints the
latest check without running one."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deshi.cli.main import app

LABELS = ("billing", "shipping", "returns", "account")


@pytest.fixture
def workspace(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`deshi init`, a department and a process without labels."""
    monkeypatch.setenv("DESHI_PASSWORD_HASH_PROFILE", "fast-insecure")
    for args in (
        ["init"],
        ["department", "create", "Support"],
        ["process", "create", "--department", "1", "--name", "routing", "--error-budget", "0.05"],
    ):
        result = _run(db_url, *args)
        assert result.exit_code == 0, result.output
    return db_url


def _run(db: str, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--db", db])


def _history(path: Path, n: int = 200) -> Path:
    """Rows whose words give their label away (see tests/history/golive_rows.py)."""
    rng = random.Random(0)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text", "category"])
        for i in range(n):
            label = LABELS[i % 4]
            words = [f"{label}{k}" for k in rng.sample(range(8), 4)] + ["please", "help"]
            writer.writerow([f"T{i}", " ".join(words), label])
    return path


def test_no_check_before_any_is_run(workspace: str) -> None:
    result = _run(workspace, "process", "go-live", "1", "--stored")
    assert result.exit_code == 0 and "no go-live check yet" in result.output


def test_go_live_runs_the_check_and_stored_reads_it_back(workspace: str, tmp_path: Path) -> None:
    path = _history(tmp_path / "history.csv")
    imported = _run(
        workspace, "import", str(path), "--process", "1", "--text-col", "text",
        "--label-col", "category", "--no-retrain", "--json",
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    ran = _run(workspace, "process", "go-live", "1", "--json")
    assert ran.exit_code == 0, ran.output
    check = json.loads(ran.output)
    assert check["status"] == "done"
    assert check["figures"]["items"] == round(check["history_items"] * 0.2) > 30
    assert check["verdict"] in {"holds", "uncertain"} and check["error_budget"] == 0.05
    stored = json.loads(_run(workspace, "process", "go-live", "1", "--stored", "--json").output)
    assert stored["check_id"] == check["check_id"]
    text = _run(workspace, "process", "go-live", "1", "--stored")
    assert text.output.startswith("Would auto-complete ")


def test_an_unknown_process_is_one_line_and_exit_1(workspace: str) -> None:
    result = _run(workspace, "process", "go-live", "9")
    assert result.exit_code == 1 and "not found" in result.output
