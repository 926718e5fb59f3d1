"""`deshi backtest LIVE --history HISTORY`: the warm start from the command line (issue #22)."""

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


def _write(path: Path, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    lines = ["text,label"]
    for _ in range(n):
        label = rng.choice(sorted(TOPICS))
        word = rng.choice(TOPICS[label])
        lines.append(f"Question {rng.randint(1, 999)} about my {word},{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _backtest(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["backtest", *map(str, args)])


def test_history_certifies_before_the_stream_so_the_first_live_items_are_auto_completed(
    tmp_path: Path,
) -> None:
    history, live = _write(tmp_path / "history.csv", 800, 1), _write(tmp_path / "live.csv", 60, 2)
    out = tmp_path / "figures.json"
    columns = ("--text-col", "text", "--label-col", "label")
    result = _backtest(live, *columns, "--history", history, "--json", out)

    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text("utf-8"))
    assert figures["items"] == 60  # the live stream's figures only
    assert figures["history"]["items"] == 800
    assert figures["history"]["labels"] == 3
    assert figures["history"]["threshold"] is not None  # certified on the history alone
    assert figures["first_auto_index"] is not None and figures["first_auto_index"] < 5
    assert figures["auto_errors"] == 0


def test_without_history_the_figures_say_so(tmp_path: Path) -> None:
    live, out = _write(tmp_path / "live.csv", 40, 2), tmp_path / "figures.json"
    result = _backtest(live, "--text-col", "text", "--label-col", "label", "--json", out)

    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text("utf-8"))
    assert figures["history"] is None
    assert figures["first_auto_index"] is None  # 40 cold items certify nothing


def test_a_history_needs_the_columns_and_an_existing_file(tmp_path: Path) -> None:
    live = _write(tmp_path / "live.csv", 10, 2)
    bundled = _backtest("--bundled", "banking77", "--history", live)
    missing = _backtest(
        live, "--text-col", "text", "--label-col", "label", "--history", tmp_path / "no.csv"
    )

    assert bundled.exit_code == 2
    assert "--text-col and --label-col are required with --history" in bundled.output
    assert missing.exit_code == 2
    assert "no.csv" in missing.output
