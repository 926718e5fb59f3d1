"""Warnings and recommendation reasons in the page's language, from their code and params."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from deshi.engine.metrics import Estimate
from deshi.history import golive
from deshi.history.models import GoLiveFigures
from deshi.kpis import warnings as early
from deshi.kpis.budget import budget_evidence
from deshi.kpis.explain import SENTENCES, explain
from deshi.kpis.reasons import Reason
from deshi.kpis.recommend import Evidence, Period, recommend
from deshi.kpis.records import KpiPolicy

POLICY = KpiPolicy(error_budget=0.01, acceptance_target=0.8, weeks_required=2)
TWO_WEEKS = Period("2025-W02", "2025-W03", 2)
GOOD = Evidence(
    TWO_WEEKS,
    Estimate(5000.0, 1234.5, 9000.0, 100),
    budget_evidence(600, 0, budget=0.01, confidence=0.95),
    Estimate(0.9, 0.85, 0.94, 200),
    "USD",
    17.0,
    0.05,
)
UNSURE = Evidence(
    TWO_WEEKS,
    Estimate(2000.0, -1000.0, 5000.0, 100),
    budget_evidence(170, 0, budget=0.01, confidence=0.95),
    Estimate(0.7, 0.63, 0.76, 200),
    "USD",
    17.0,
    0.05,
)
SOON = Evidence(
    TWO_WEEKS,
    None,
    budget_evidence(440, 0, budget=0.01, confidence=0.95),
    None,
    "USD",
    30.0,
    0.05,
)
UNMEASURED = Evidence(Period("2025-W03", "2025-W03", 1), None, None, None, "USD")
NOTHING = Evidence(Period(), None, None, None, "USD")
STOP = Evidence(
    TWO_WEEKS,
    Estimate(-5000.0, -9000.0, -1000.0, 100),
    budget_evidence(100, 8, budget=0.01, confidence=0.95),
    None,
    "USD",
)


def _every_sentence() -> list[early.EarlyWarning | Reason | golive.Verdict]:
    """At least one warning or reason of every kind, made by the kpis code itself."""
    now = datetime(2025, 3, 1, tzinfo=UTC)
    warnings = [
        early.no_owner(None),
        early.no_baseline(datetime(2025, 1, 1, tzinfo=UTC), now, None),
        early.stage_overdue("limited_production", date(2025, 2, 1), now.date()),
        early.backlog_growing([10, 20, 30]),
        early.feedback_falling([100, 70, 40]),
        early.quality_drift(
            "acceptance", Estimate(0.9, 0.85, 0.94, 500), Estimate(0.6, 0.55, 0.65, 500)
        ),
        early.quality_drift(
            "accuracy", Estimate(0.95, 0.9, 0.97, 500), Estimate(0.7, 0.65, 0.75, 500)
        ),
        early.error_budget_at_risk(Estimate(0.0095, 0.002, 0.03, 400), 0.01),
        early.error_budget_at_risk(Estimate(0.08, 0.04, 0.14, 100), 0.01),
        early.autopilot_suspended(True),
        early.autopilot_suspended(True, reason="monitor"),
        early.input_drift(DRIFTING),
    ]
    reasons = [
        reason
        for evidence in (NOTHING, GOOD, UNSURE, SOON, UNMEASURED, STOP)
        for reason in recommend(evidence, POLICY).reasons
    ]
    return [w for w in warnings if w is not None] + reasons + _go_live_verdicts()


DRIFTING = {
    "live_items": 500, "psi": 0.4123, "psi_threshold": 0.25, "novel_share": 0.124,
    "novel_expected": 0.01, "drifting": True,
}  # fmt: skip


def _go_live_verdicts() -> list[golive.Verdict]:
    """Every verdict of the go-live check (deshi.history.golive), by its own code."""

    def figures(auto: int, errors: int) -> GoLiveFigures:
        counts = golive.ReplayCounts(800, 200, auto, errors, 0.99, 1.0)
        return golive.golive_figures(counts, confidence=0.95)

    return [
        golive.verdict(figures(150, 0), error_budget=0.05, history_items=1000),
        golive.verdict(figures(120, 1), error_budget=0.01, history_items=1000),
        golive.verdict(figures(120, 9), error_budget=0.01, history_items=1000),
        golive.verdict(figures(0, 0), error_budget=0.01, history_items=1000),
        golive.verdict(None, error_budget=0.01, history_items=12),
    ]


def _english(said: early.EarlyWarning | Reason | golive.Verdict) -> str:
    return explain(said, locale="en")


def _japanese(said: early.EarlyWarning | Reason | golive.Verdict) -> str:
    return explain(said, locale="ja")


def test_every_sentence_kind_is_in_the_table_and_reads_as_the_kpis_message_in_english() -> None:
    sentences = _every_sentence()
    assert {s.code for s in sentences} == {key.split(":")[0] for key in SENTENCES}
    for said in sentences:
        assert _english(said) == said.message


@pytest.mark.parametrize("said", _every_sentence(), ids=lambda s: s.code)
def test_every_sentence_has_a_japanese_reading(
    said: early.EarlyWarning | Reason | golive.Verdict,
) -> None:
    japanese = _japanese(said)
    assert japanese != said.message
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in japanese)


def test_japanese_sentences_carry_their_numbers_in_the_locales_format() -> None:
    positive, holds, _ = recommend(GOOD, POLICY).reasons
    assert (
        _japanese(positive) == "期間の純削減額は確信をもってプラスです：少なくとも 1,234.50 USD。"
    )
    assert "1.00%" in _japanese(holds) and "600 件" in _japanese(holds)
    needed = recommend(UNSURE, POLICY).reasons[-1]
    assert needed.code == "audits_needed" and "5%" in _japanese(needed)
    stage = early.stage_overdue("limited_production", date(2025, 2, 1), date(2025, 2, 4))
    assert stage is not None and "「限定本番」" in _japanese(stage)


def test_an_unknown_code_or_params_keep_the_english_message() -> None:
    assert _japanese(Reason("brand_new", "Something new happened.")) == "Something new happened."
    odd = Reason("no_baseline", "No human-only baseline after x days.", {"days": "x"})
    assert _japanese(odd) == odd.message
