"""The self-contained HTML report of a backtest."""

from __future__ import annotations

import re

from deshi.sim.backtest import BacktestResult, BacktestSettings, WindowStats
from deshi.sim.report import render_report, summary_figures


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
