"""`deshi import` and `deshi history`: a file in, one JSON summary out, bad input one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from deshi.cli.main import app

BANKING77 = Path(__file__).parents[2] / "src/deshi/data/banking77/train.csv"


@pytest.fixture
def workspace(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`deshi init`, a department and a process without labels."""
    monkeypatch.setenv("DESHI_PASSWORD_HASH_PROFILE", "fast-insecure")
    runner = CliRunner()
    for args in (
        ["init"],
        ["department", "create", "Support"],
        ["process", "create", "--department", "1", "--name", "routing"],
    ):
        result = runner.invoke(app, [*args, "--db", db_url])
        assert result.exit_code == 0, result.output
    return db_url


def _history(path: Path, labels: int = 4, per_label: int = 30) -> Path:
    with BANKING77.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    chosen = sorted({r["category"] for r in rows})[:labels]
    picked = [r for c in chosen for r in [r for r in rows if r["category"] == c][:per_label]]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text", "category"])
        for i, r in enumerate(picked):
            writer.writerow([f"T{i}", r["text"], r["category"]])
    return path


def _run(db: str, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--db", db])


def _json(db: str, *args: str) -> dict[str, Any]:
    result = _run(db, *args, "--json")
    assert result.exit_code == 0, result.output
    [line] = result.stdout.strip().splitlines()
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_import_prints_one_summary_and_a_second_run_imports_nothing(
    workspace: str, tmp_path: Path
) -> None:
    path = _history(tmp_path / "history.csv")
    args = ["import", str(path), "--process", "1", "--text-col", "text", "--label-col", "category"]
    summary = _json(workspace, *args, "--id-col", "id")
    assert (summary["rows"], summary["imported"], summary["model_version"]) == (120, 120, 1)
    assert len(summary["labels_added"]) == 4
    again = _json(workspace, *args, "--id-col", "id")
    assert (again["imported"], again["already_imported"]) == (0, 120)
    shown = _json(workspace, "history", "show", "--process", "1")
    assert shown["items"] == 120 and len(shown["imports"]) == 2
    flags = _json(workspace, "history", "audit", "--process", "1")
    assert flags["process_id"] == 1 and isinstance(flags["flags"], list)


def test_the_text_summary_names_what_was_found(workspace: str, tmp_path: Path) -> None:
    path = _history(tmp_path / "history.csv")
    result = _run(
        workspace, "import", str(path), "--process", "1", "--text-col", "text",
        "--label-col", "category", "--no-retrain",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Process 1: 120 of 120 rows imported" in result.stdout
    assert "Labels (4):" in result.stdout


def test_an_excel_file_imports(workspace: str, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["本文", "分類"])
    for i in range(12):
        sheet.append([f"請求書 {i} の金額が違います", "請求"])
        sheet.append([f"住所 {i} を変更したい", "変更"])
    path = tmp_path / "history.xlsx"
    book.save(path)
    summary = _json(
        workspace, "import", str(path), "--process", "1", "--text-col", "本文",
        "--label-col", "分類", "--no-retrain",
    )  # fmt: skip
    assert summary["imported"] == 24 and summary["format"] == "xlsx"


@pytest.mark.parametrize(
    ("content", "columns", "message"),
    [
        (b"", ("text", "category"), "Error: the file is empty"),
        (b"id,text,category\n", ("text", "category"), "Error: the file has a header but no rows"),
        (
            b"id,body,category\n1,hello,a\n",
            ("text", "category"),
            "Error: no column 'text' in the file; its columns are: 'id', 'body', 'category'",
        ),
        (
            b"id,text,category\n1,hello,a\n2,hi,a\n",
            ("text", "category"),
            "Error: every row has the label 'a': a model needs at least two labels",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_1_with_nothing_imported(
    workspace: str, tmp_path: Path, content: bytes, columns: tuple[str, str], message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = _run(
        workspace, "import", str(path), "--process", "1",
        "--text-col", columns[0], "--label-col", columns[1],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.strip() == message
    assert _json(workspace, "history", "show", "--process", "1")["items"] == 0


def test_a_missing_file_or_an_unknown_format_is_refused(workspace: str, tmp_path: Path) -> None:
    args = ["--process", "1", "--text-col", "t", "--label-col", "l"]
    missing = _run(workspace, "import", str(tmp_path / "nope.csv"), *args)
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    notes = tmp_path / "notes.docx"
    notes.write_bytes(b"x")
    wrong = _run(workspace, "import", str(notes), *args)
    assert wrong.exit_code == 1 and "not a history file" in wrong.stderr


def test_no_audit_retrains_without_auditing(workspace: str, tmp_path: Path) -> None:
    path = _history(tmp_path / "history.csv")
    summary = _json(
        workspace, "import", str(path), "--process", "1", "--text-col", "text",
        "--label-col", "category", "--no-audit",
    )  # fmt: skip
    assert summary["model_version"] == 1
    assert summary["suspicious"] is None and "audit" not in summary["seconds"]
