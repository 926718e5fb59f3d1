"""The weekly report page in English and Japanese, rendered from KPIs built here (no database)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import escape, unescape

import pytest

from deshi.engine.metrics import Estimate
from deshi.kpis import warnings as early
from deshi.kpis.budget import budget_evidence
from deshi.kpis.explain import explain
from deshi.kpis.models import (
    BusinessKpis,
    FlywheelKpis,
    KpiReport,
    Kpis,
    Metric,
    ModelKpis,
    PeriodPublic,
    ProductKpis,
    ReasonPublic,
    RecommendationPublic,
    WarningPublic,
    WeekKpis,
)
from deshi.kpis.recommend import Evidence, Period, recommend
from deshi.kpis.records import KpiPolicy
from deshi.kpis.report import WeeklyReport, render_weekly_report, summary_rows

ENGLISH_ROWS = [
    "Agent accuracy",
    "Auto-complete error (audited)",
    "Automation",
    "Acceptance",
    "Handling seconds per item",
    "Hours saved",
    "Net savings (USD)",
    "Reviews",
]
JAPANESE_ROWS = [
    "エージェントの正解率",
    "自動完了の誤り率（監査済み）",
    "自動化率",
    "承認率",
    "1件あたりの処理時間（秒）",
    "削減時間",
    "純削減額（USD）",
    "レビュー数",
]
# ASCII words a Japanese page may keep: names, codes, units and the interval methods' names.
# Names, not words: kept as they are in Japanese (BANKING77 is the data set a definition cites).
NOT_ENGLISH = {
    "AI", "ISO", "USD", "UTC", "deshi", "Wilson", "Clopper", "Pearson", "Welch", "BANKING",
}  # fmt: skip


def _metric(value: float, low: float, high: float, n: int) -> Metric:
    return Metric(value=value, low=low, high=high, n=n)


def _layers(scale: int) -> dict[str, object]:
    """The four KPI layers of a period with `scale` times the observations of one week."""
    reviews = 28 * scale
    return {
        "model": ModelKpis(
            accuracy=_metric(0.857, 0.685, 0.943, 28 * scale),
            calibration_error=None,
            auto_error=_metric(0.25, 0.0063, 0.8059, 4 * scale),
        ),
        "product": ProductKpis(
            automation=_metric(0.256, 0.146, 0.411, 39 * scale),
            acceptance=_metric(0.917, 0.646, 0.985, 12 * scale),
            correction=None,
            handling_seconds=_metric(125.5, 91.9, 159.1, 380 * scale),
            handling_seconds_by_arm={
                "human_only": _metric(180.0, 150.0, 210.0, 12 * scale),
                "assisted": _metric(90.0, 70.0, 110.0, 12 * scale),
                "ai_led": None,
            },
        ),
        "business": BusinessKpis(
            baseline_minutes=_metric(3.0, 2.5, 3.5, 12 * scale),
            hours_saved=_metric(1.2, 1.0, 1.5, 26 * scale),
            money_saved=_metric(3600.0, 3000.0, 4500.0, 26 * scale),
            escaped_errors=None,
            escaped_error_cost=_metric(500.0, 0.0, 1500.0, 4 * scale),
            running_cost=0.0,
            net_savings=_metric(2436.4, -1367.2, 4485.1, 26 * scale),
            roi=None,
        ),
        "flywheel": FlywheelKpis(
            reviews=_metric(reviews, reviews, reviews, reviews),
            labels_covered=4,
            active_reviewers=2,
            accuracy_gain_per_week=None,
            accuracy_gain_per_1000_reviews=None,
            retraining_cycle_days=None,
        ),
    }


def _said_now() -> tuple[RecommendationPublic, list[WarningPublic]]:
    """A hold with its reasons and two warnings, made by the kpis code itself."""
    policy = KpiPolicy(error_budget=0.01, acceptance_target=0.8, weeks_required=2)
    evidence = Evidence(
        period=Period("2026-W45", "2026-W46", 2),
        net_savings=Estimate(2000.0, -1000.0, 5000.0, 100),
        budget=budget_evidence(60, 0, budget=0.01, confidence=0.95),
        acceptance=Estimate(0.7, 0.63, 0.76, 200),
        currency="USD",
        audits_per_week=30.0,
        audit_rate=0.05,
    )
    found = recommend(evidence, policy)
    reasons = [
        ReasonPublic(code=r.code, message=r.message, params=dict(r.params)) for r in found.reasons
    ]
    fired = [
        early.no_owner(None),
        early.error_budget_at_risk(Estimate(0.25, 0.0063, 0.8059, 4), 0.01),
    ]
    warnings = [
        WarningPublic(code=w.code, severity=w.severity, message=w.message, params=dict(w.params))
        for w in fired
        if w is not None
    ]
    period = PeriodPublic(first_week="2026-W45", last_week="2026-W46", weeks=2, partial=False)
    return RecommendationPublic(action=found.action, reasons=reasons, period=period), warnings


def _report(process_name: str = "問い合わせ振り分け") -> WeeklyReport:
    recommendation, warnings = _said_now()
    kpis = KpiReport(
        process_id=1,
        arm=None,
        start=None,
        end=date(2026, 11, 15),
        confidence=0.95,
        error_budget=0.01,
        currency="USD",
        overall=Kpis(items=1560, **_layers(40)),
        weeks=[
            WeekKpis(week="2026-W45", items=39, **_layers(1)),
            WeekKpis(week="2026-W46", items=39, **_layers(1)),
        ],
        recommendation=recommendation,
    )
    return WeeklyReport(
        process_name=process_name,
        week="2026-W46",
        monday=date(2026, 11, 9),
        sunday=date(2026, 11, 15),
        kpis=kpis,
        warnings=warnings,
        generated_at=datetime(2026, 11, 16, 9, 30, tzinfo=UTC),
    )


def _sentences(report: WeeklyReport) -> list[ReasonPublic | WarningPublic]:
    return [*report.kpis.recommendation.reasons, *report.warnings]


def _table_rows(html: str) -> list[list[str]]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def _visible_text(html: str) -> str:
    """The page's text without its markup and style sheet, as a reader sees it."""
    body = re.sub(r"<style>.*?</style>", " ", html, flags=re.DOTALL)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def test_the_japanese_report_has_japanese_headings_and_row_labels() -> None:
    html = render_weekly_report(_report(), locale="ja")
    assert '<html lang="ja">' in html
    assert "<title>deshi 週次レポート — 問い合わせ振り分け — 2026-W46</title>" in html
    assert "<h1>問い合わせ振り分け：2026-W46 の週次レポート</h1>" in html
    assert re.findall(r"<h2[^>]*>(.*?)</h2>", html) == ["数値", "早期警告", "推移", "指標の定義"]
    assert "<th>指標</th><th>2026-W46</th><th>期間累計</th>" in html
    assert [row[0] for row in _table_rows(html)] == JAPANESE_ROWS
    assert "2026-W45～2026-W46（2 週）の推奨: <strong>維持</strong>" in html
    assert "学習曲線：週ごとのエージェント正解率" in html
    assert ">人のみ<" in html and ">AIアシスト<" in html and ">AI主導<" in html


def test_the_japanese_report_leaves_no_english_label_behind() -> None:
    report = _report()
    html = render_weekly_report(report, locale="ja")
    words = set(re.findall(r"[A-Za-z]{2,}", _visible_text(html)))
    assert words <= NOT_ENGLISH
    for name in [row.name for row in summary_rows(report, "en")]:
        assert name not in html


def test_the_japanese_report_formats_values_dates_and_sentences_for_japanese() -> None:
    report = _report()
    html = render_weekly_report(report, locale="ja")
    assert "2026/11/09～2026/11/15。" in html
    assert "区間は 95% 信頼区間です。" in html and "エラー予算 ε = 1.00%。" in html
    week, overall = _table_rows(html)[0][1:]
    assert week == "85.7%（68.5%～94.3%、n=28）"
    assert overall == "85.7%（68.5%～94.3%、n=1,120）"
    assert _table_rows(html)[-1][1:] == ["28（n=28）", "1,120（n=1,120）"]
    assert "予算 ε = 1.00%" in html  # the budget line of the auto error chart
    assert "deshi が 2026/11/16 9:30:00（UTC）に作成しました。" in html
    for said in _sentences(report):
        assert f'data-code="{said.code}">' in html
        assert escape(explain(said, locale="ja"), quote=False) in html
        assert escape(said.message, quote=False) not in html
    assert "このプロセスにはオーナーがいません。" in html


def test_the_english_report_reads_as_before() -> None:
    report = _report("routing")
    html = render_weekly_report(report, locale="en")
    assert '<html lang="en">' in html
    assert "<title>deshi weekly report — routing — 2026-W46</title>" in html
    assert "<h1>routing: week 2026-W46</h1>" in html
    assert re.findall(r"<h2[^>]*>(.*?)</h2>", html) == [
        "Numbers",
        "Early warnings",
        "Over time",
        "Metric definitions",
    ]
    rows = _table_rows(html)
    assert [row[0] for row in rows] == ENGLISH_ROWS
    assert rows[0][1:] == ["85.7% (68.5% to 94.3%, n=28)", "85.7% (68.5% to 94.3%, n=1,120)"]
    assert rows[6][1] == "2,436 (-1,367 to 4,485, n=26)"
    assert "Nov 9, 2026 to Nov 15, 2026." in html
    assert "Error budget ε = 1.00%." in html
    assert (
        "Recommendation for 2026-W45 to 2026-W46 (2 week(s)): "
        f"<strong>{report.kpis.recommendation.action}</strong>"
    ) in html
    for said in _sentences(report):
        assert escape(said.message, quote=False) in html
    assert "<strong>warning</strong>: The process has no owner.</li>" in html
    for title in ["Learning curve: agent accuracy per week", "Automation per week",
                  "Audited auto-complete error per week (gaps: no audits)",
                  "Mean human handling time per item, by arm",
                  "Cumulative savings and costs (USD)"]:  # fmt: skip
        assert f"<title>{title}</title>" in html
    assert ">budget ε = 1.00%<" in html and ">human only<" in html
    assert "Generated by deshi at Nov 16, 2026, 9:30:00\u202fAM UTC." in html
    assert "docs/kpis.md" not in html


def test_a_week_without_items_shows_dashes_in_both_languages() -> None:
    report = _report()
    empty = WeeklyReport(
        process_name=report.process_name,
        week="2026-W47",
        monday=date(2026, 11, 16),
        sunday=date(2026, 11, 22),
        kpis=report.kpis,
        warnings=[],
        generated_at=report.generated_at,
    )
    for locale, nothing in [("en", "No early warning fired."), ("ja", "早期警告はありません。")]:
        html = render_weekly_report(empty, locale=locale)
        assert {row[1] for row in _table_rows(html)} == {"—"}
        assert f'<p id="warnings">{nothing}</p>' in html


def test_an_unsupported_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported locale 'fr'"):
        render_weekly_report(_report(), locale="fr")
