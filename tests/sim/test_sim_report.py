"""The self-contained HTML report of a backtest, in English and Japanese."""

from __future__ import annotations

import re
from html import unescape

import pytest

from deshi.sim.backtest import BacktestResult, BacktestSettings, WindowStats
from deshi.sim.report import budget_verdict, format_threshold, render_report, summary_figures


def _result(**changes: object) -> BacktestResult:
    windows = (
        WindowStats(0, 500, auto=0, auto_errors=0, correct=200, threshold=None, model_version=0),
        WindowStats(
            500, 1000, auto=300, auto_errors=2, correct=450, threshold=0.93, model_version=2
        ),
    )
    fields: dict[str, object] = {
        "settings": BacktestSettings(seed=1),
        "items": 1000,
        "auto": 300,
        "auto_errors": 2,
        "human_reviews": 700,
        "audits": 15,
        "correct": 650,
        "retrains": 3,
        "promotions": 2,
        "seconds": 2.0,
        "windows": windows,
        "source": "history <2024>.csv",
        "labels": ("a", "b"),
        "skipped_blank": 4,
    }
    fields.update(changes)
    return BacktestResult(**fields)  # type: ignore[arg-type]


def test_report_is_one_self_contained_page_with_charts() -> None:
    html = render_report(_result())

    assert html.startswith("<!doctype html>")
    assert html.count("<svg") == 4
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html and "<link" not in html


def test_report_shows_the_headline_figures_and_escapes_the_source() -> None:
    html = render_report(_result())

    assert "history &lt;2024&gt;.csv" in html
    assert "30.0%" in html  # automation
    assert "4 blank texts skipped" in html
    assert "budget ε = 1.00%" in html
    assert "0.930" in html  # threshold of the last window


def test_report_states_whether_the_budget_is_shown_to_hold() -> None:
    assert "Not shown within budget" in render_report(_result())
    safe = _result(auto=900, auto_errors=0, human_reviews=100)
    assert safe.within_budget
    assert "Within budget" in render_report(safe)


def test_summary_figures_label_every_value() -> None:
    figures = summary_figures(_result())

    assert all(figure.label and figure.value for figure in figures)
    assert {"Automation", "Human reviews", "Final threshold"} <= {f.label for f in figures}


def _visible_words(html: str) -> set[str]:
    """The Latin words of a page's visible text (styles and tags left out)."""
    text = re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)
    text = unescape(re.sub(r"<[^>]+>", " ", text))
    return set(re.findall(r"[A-Za-z]{2,}", text))


def test_report_in_japanese_translates_every_visible_string() -> None:
    html = render_report(_result(), locale="ja")

    assert html.startswith('<!doctype html>\n<html lang="ja">')
    assert "<h1>バックテスト：history &lt;2024&gt;.csv</h1>" in html
    assert "<h2>概要</h2>" in html and "<h2>ウィンドウ別</h2>" in html
    assert "予算内とは示されていません" in html
    assert "ラベル 2 種類、空のテキスト 4 件を除外" in html
    assert "ウィンドウごとの自動化率" in html and ">案件数</text>" in html  # chart title, x axis
    assert html.count("<svg") == 4
    # what is left in Latin letters: the source's name, the featurizer, model versions, ε's
    # formula and the command's name; an untranslated label would show up here
    assert _visible_words(html) <= {"deshi", "backtest", "history", "csv", "tfidf"}


def test_english_report_keeps_its_wording() -> None:
    html = render_report(_result(), locale="en")

    assert '<html lang="en">' in html
    assert "2 labels; 4 blank texts skipped" in html
    assert "<th>Window</th><th>Automation</th>" in html
    assert ">items</text>" in html


def test_verdict_and_figures_in_japanese() -> None:
    safe = _result(auto=900, auto_errors=0, human_reviews=100)

    assert budget_verdict(safe, locale="ja").startswith("予算内です：")
    figures = {f.label: f for f in summary_figures(_result(), locale="ja")}
    assert figures["自動化率"].value == "30.0%"
    assert figures["自動化率"].note == "自動完了 300 件"
    assert figures["最終しきい値"].value == "0.930"
    assert format_threshold(None, locale="ja") == "オフ"


def test_report_refuses_an_unsupported_language() -> None:
    with pytest.raises(ValueError, match="unsupported locale 'fr'"):
        render_report(_result(), locale="fr")
