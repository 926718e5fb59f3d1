"""`deshi backtest` end to end: real files, the real agent, one-line errors for bad input."""

from __future__ import annotations

import importlib.util
import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from deshi.cli.main import app

needs_agent = pytest.mark.skipif(
    importlib.util.find_spec("deshi.engine.agent") is None,
    reason="deshi.engine.Agent is not written yet",
)

TOPICS = {
    "billing": ["invoice", "refund", "charge", "payment", "bill"],
    "shipping": ["parcel", "delivery", "courier", "package", "tracking"],
    "login": ["password", "login", "account locked", "two-factor code", "sign in"],
}
TOPICS_JA = {
    "請求": ["請求書", "返金", "支払い", "料金", "振込"],
    "配送": ["荷物", "配達", "宅配便", "発送", "追跡番号"],
    "ログイン": ["パスワード", "ログイン", "アカウント", "認証コード", "サインイン"],
}


def _history(topics: dict[str, list[str]], n: int, template: str) -> list[dict[str, str]]:
    rng = random.Random(0)
    rows = []
    for _ in range(n):
        label = rng.choice(sorted(topics))
        word = rng.choice(topics[label])
        rows.append({"text": template.format(word=word, n=rng.randint(1, 99)), "label": label})
    return rows


def _write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    lines = ["text,label"] + [f'"{r["text"]}",{r["label"]}' for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def _backtest(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["backtest", *map(str, args)])


def _assert_consistent(figures: dict[str, Any]) -> None:
    items = figures["items"]
    assert figures["human_reviews"] + figures["auto"] == items
    assert figures["automation_rate"] == pytest.approx(figures["auto"] / items)
    assert 0 <= figures["audits"] <= figures["human_reviews"]
    assert 0.0 <= figures["auto_error_rate"] <= figures["auto_error_upper"] <= 1.0
    assert figures["throughput_items_per_s"] > 0
    windows = figures["windows"]
    assert windows[0]["start"] == 0 and windows[-1]["end"] == items
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(windows))
    for key in ("automation", "error", "accuracy", "threshold", "model_version"):
        assert all(key in window for window in windows)


@pytest.mark.slow
@needs_agent
def test_bundled_slice_runs_end_to_end_with_json_and_report(tmp_path: Path) -> None:
    json_out, report_out = tmp_path / "bt.json", tmp_path / "bt.html"

    result = _backtest(
        "--bundled",
        "banking77",
        "--shuffle-seed",
        "1",
        "--limit",
        "600",
        "--window",
        "100",
        "--json",
        json_out,
        "--report",
        report_out,
    )

    assert result.exit_code == 0, result.output
    figures = json.loads(json_out.read_text("utf-8"))
    _assert_consistent(figures)
    assert figures["items"] == 600 and len(figures["windows"]) == 6
    assert (figures["seed"], figures["featurizer"], figures["error_budget"]) == (1, "tfidf", 0.01)
    assert figures["retrains"] >= 1
    assert figures["windows"][-1]["accuracy"] > figures["windows"][0]["accuracy"]
    assert "Automation" in result.stdout
    html = report_out.read_text("utf-8")
    assert "<svg" in html
    assert "http://" not in html and "https://" not in html


@needs_agent
def test_csv_and_jsonl_give_the_same_figures(tmp_path: Path) -> None:
    rows = _history(TOPICS, 150, "Question {n} about my {word}")
    outputs = []
    for source in (_write_csv(tmp_path / "h.csv", rows), _write_jsonl(tmp_path / "h.jsonl", rows)):
        out = tmp_path / f"{source.suffix[1:]}.json"
        result = _backtest(source, "--text-col", "text", "--label-col", "label", "--json", out)
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(out.read_text("utf-8")))

    csv_figures, jsonl_figures = outputs
    _assert_consistent(csv_figures)
    assert csv_figures["items"] == jsonl_figures["items"] == 150
    assert csv_figures["labels"] == jsonl_figures["labels"] == ["billing", "login", "shipping"]
    assert csv_figures["auto"] == jsonl_figures["auto"]


@needs_agent
def test_japanese_text_with_bom_is_backtested(tmp_path: Path) -> None:
    rows = _history(TOPICS_JA, 150, "{word}について質問があります {n} 件目")
    source = _write_csv(tmp_path / "ja.csv", rows, encoding="utf-8-sig")
    out, report = tmp_path / "ja.json", tmp_path / "ja.html"

    result = _backtest(
        source, "--text-col", "text", "--label-col", "label", "--json", out, "--report", report
    )

    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text("utf-8"))
    _assert_consistent(figures)
    assert set(figures["labels"]) == set(TOPICS_JA)
    assert figures["accuracy"] > 0.5
    assert "ログイン" in out.read_text("utf-8")  # not \u-escaped


@needs_agent
def test_lang_ja_writes_the_summary_and_the_report_in_japanese(tmp_path: Path) -> None:
    rows = _history(TOPICS, 60, "Question {n} about my {word}")
    source, report = _write_csv(tmp_path / "h.csv", rows), tmp_path / "h.html"

    result = _backtest(
        source, "--text-col", "text", "--label-col", "label", "--report", report, "--lang", "ja-JP"
    )

    assert result.exit_code == 0, result.output
    assert "バックテスト：" in result.stdout and "自動化率" in result.stdout
    assert "予算内" in result.stdout and "Automation" not in result.stdout
    html = report.read_text("utf-8")
    assert '<html lang="ja">' in html and "<h2>ウィンドウ別</h2>" in html
    assert "Per window" not in html


@needs_agent
def test_blank_texts_are_skipped_and_reported(tmp_path: Path) -> None:
    rows = _history(TOPICS, 60, "Question {n} about my {word}")
    rows[5]["text"] = rows[9]["text"] = "   "
    out = tmp_path / "h.json"

    result = _backtest(
        _write_csv(tmp_path / "h.csv", rows),
        "--text-col",
        "text",
        "--label-col",
        "label",
        "--json",
        out,
        "--shuffle-seed",
        "3",
    )

    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text("utf-8"))
    assert (figures["items"], figures["skipped_blank"]) == (58, 2)
    assert "2 blank texts skipped" in result.stdout


@needs_agent
def test_history_sorted_by_label_gets_a_warning_to_shuffle(tmp_path: Path) -> None:
    rows = sorted(_history(TOPICS, 60, "Question {n} about my {word}"), key=lambda r: r["label"])
    source = _write_csv(tmp_path / "sorted.csv", rows)

    in_file_order = _backtest(source, "--text-col", "text", "--label-col", "label")
    shuffled = _backtest(
        source, "--text-col", "text", "--label-col", "label", "--shuffle-seed", "0"
    )

    assert in_file_order.exit_code == shuffled.exit_code == 0
    assert "--shuffle-seed" in in_file_order.stderr
    assert "Warning" not in shuffled.stderr


GOOD_ROWS = "text,label\nhello,greet\nbye,farewell\n"


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["missing.csv", "--text-col", "text", "--label-col", "label"], "no such file"),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "body", "--label-col", "label"],
            "no column 'body' (available: 'text', 'label')",
        ),
        ({"h.csv": ""}, ["h.csv", "--text-col", "text", "--label-col", "label"], "is empty"),
        (
            {"h.csv": "text,label\na,x\nb,x\n"},
            ["h.csv", "--text-col", "text", "--label-col", "label"],
            "only one distinct label",
        ),
        (
            {"h.jsonl": '{"text": "a", "label": "x"}\nnot json\n'},
            ["h.jsonl", "--text-col", "text", "--label-col", "label"],
            "line 2 of",
        ),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "text", "--label-col", "label", "--error-budget", "1.5"],
            "--error-budget must be between 0 and 1",
        ),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "text", "--label-col", "label", "--error-budget", "0"],
            "--error-budget must be between 0 and 1",
        ),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "text", "--label-col", "label", "--confidence", "1"],
            "--confidence must be between 0 and 1",
        ),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "text", "--label-col", "label", "--audit-rate", "0"],
            "--audit-rate must be in (0, 1]",
        ),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "text", "--label-col", "label", "--window", "0"],
            "--window must be at least 1",
        ),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "text", "--label-col", "label", "--limit", "0"],
            "--limit must be at least 1",
        ),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "text", "--label-col", "label", "--featurizer", "words"],
            "--featurizer must be",
        ),
        (
            {"h.csv": GOOD_ROWS},
            [
                "h.csv",
                "--text-col",
                "text",
                "--label-col",
                "label",
                "--json",
                "no/such/folder/out.json",
            ],
            "does not exist",
        ),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "text", "--label-col", "label", "--error-budget", "abc"],
            "Invalid value for '--error-budget'",
        ),
        (
            {"h.csv": GOOD_ROWS},
            ["h.csv", "--text-col", "text", "--label-col", "label", "--lang", "fr"],
            "--lang: unsupported language 'fr'; use one of en, ja",
        ),
        ({"h.csv": GOOD_ROWS}, ["h.csv", "--no-such-flag"], "No such option: --no-such-flag"),
        ({"h.csv": GOOD_ROWS}, ["h.csv"], "--text-col and --label-col are required"),
        ({}, [], "give a PATH"),
        ({"h.csv": GOOD_ROWS}, ["h.csv", "--bundled", "banking77"], "not both"),
        ({}, ["--bundled", "mnist"], "no bundled data set named 'mnist'"),
        ({}, ["--bundled", "banking77", "--label-col", "intent"], "no column 'intent'"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")

    result = _backtest(*args)

    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_file_that_is_not_utf8_is_named_in_the_error(tmp_path: Path) -> None:
    source = tmp_path / "latin.csv"
    source.write_bytes("text,label\ncafé,drink\nthé,drink\n".encode("cp1252"))

    result = _backtest(source, "--text-col", "text", "--label-col", "label")

    assert result.exit_code == 2
    assert f"{source} is not UTF-8" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
