"""`deshi backtest LIVE --history HISTORY`: the history's label audit in `--json` and in the
summary; `--no-audit` skips it (issue #22, point 3)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner, Result

from deshi.cli.main import app

TOPICS = {
    "billing": ["invoice", "refund", "charge", "payment", "bill"],
    "shipping": ["parcel", "delivery", "courier", "package", "tracking"],
    "login": ["password", "login", "account locked", "two-factor code", "sign in"],
}
COLUMNS = ("--text-col", "text", "--label-col", "label")


def _write(path: Path, n: int, seed: int, *, wrong: int = 0) -> Path:
    """n topic questions; the first `wrong` of them carry another topic's label."""
    rng = random.Random(seed)
    labels = sorted(TOPICS)
    lines = ["text,label"]
    for row in range(n):
        label = rng.choice(labels)
        word = rng.choice(TOPICS[label])
        given = labels[(labels.index(label) + 1) % len(labels)] if row < wrong else label
        lines.append(f"Question {rng.randint(1, 999)} about my {word},{given}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _backtest(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["backtest", *map(str, args)], env={"COLUMNS": "200"})


def test_the_json_reports_the_history_label_audit_and_the_summary_has_its_line(
    tmp_path: Path,
) -> None:
    history = _write(tmp_path / "history.csv", 300, 1, wrong=6)
    live, out = _write(tmp_path / "live.csv", 30, 2), tmp_path / "figures.json"

    result = _backtest(live, *COLUMNS, "--history", history, "--json", out)

    assert result.exit_code == 0, result.output
    audit = json.loads(out.read_text("utf-8"))["history"]["label_audit"]
    assert audit["rows"] == 300 and audit["audited"] is True
    assert audit["flagged"] >= 4  # of the 6 planted wrong labels
    planted = {f"history-row-{n}" for n in range(1, 7)}  # data rows 1..6 carry them
    assert len(planted & {row["case_id"] for row in audit["most_suspicious"]}) >= 4
    assert 0 < audit["estimated_noise"] < 0.1
    assert "History label audit" in result.output
    assert f"{audit['flagged']} flagged" in result.output
    assert "Auditing the labels of 300 history rows" in result.output


def test_no_audit_skips_it(tmp_path: Path) -> None:
    history = _write(tmp_path / "history.csv", 100, 1, wrong=3)
    live, out = _write(tmp_path / "live.csv", 20, 2), tmp_path / "figures.json"

    result = _backtest(live, *COLUMNS, "--history", history, "--no-audit", "--json", out)

    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text("utf-8"))
    assert figures["history"]["items"] == 100
    assert figures["history"]["label_audit"] is None
    assert "History label audit" not in result.output
    assert "Auditing" not in result.output


def test_the_summary_line_is_in_japanese_with_lang_ja(tmp_path: Path) -> None:
    history = _write(tmp_path / "history.csv", 120, 1, wrong=2)
    live = _write(tmp_path / "live.csv", 20, 2)

    result = _backtest(live, *COLUMNS, "--history", history, "--lang", "ja")

    assert result.exit_code == 0, result.output
    assert "履歴のラベル監査" in result.output
    assert "推定ラベル誤り率" in result.output
