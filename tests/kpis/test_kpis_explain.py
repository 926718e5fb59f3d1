"""Warnings and recommendation reasons in the page's language, from their code and params."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from deshi.engine.metrics import Estimate
from deshi.kpis import warnings as early
from deshi.kpis.explain import SENTENCES, explain
from deshi.kpis.reasons import Reason
from deshi.kpis.recommend import WeekEvidence, recommend
from deshi.kpis.records import KpiPolicy

POLICY = KpiPolicy(error_budget=0.01, acceptance_target=0.8, weeks_required=2)
GOOD = WeekEvidence(
    "2025-W02",
    Estimate(5000.0, 1234.5, 9000.0, 100),
    Estimate(0.0, 0.0, 0.008, 460),
    Estimate(0.9, 0.85, 0.94, 200),
)
UNSURE = WeekEvidence(
    "2025-W03",
    Estimate(2000.0, -1000.0, 5000.0, 100),
    Estimate(0.0, 0.0, 0.06, 60),
    Estimate(0.7, 0.63, 0.76, 200),
)
UNMEASURED = WeekEvidence("2025-W03", None, None, None)
STOP = [
    WeekEvidence("2025-W02", Estimate(-5000.0, -9000.0, -1000.0, 100), None, None),
    WeekEvidence(
        "2025-W03", Estimate(-5000.0, -9000.0, -1000.0, 100), Estimate(0.08, 0.04, 0.14, 100), None
    ),
]


def _every_sentence() -> list[early.EarlyWarning | Reason]:
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
    ]
    reasons = [
        reason
        for weeks in ([], [GOOD], [GOOD, GOOD], [UNSURE, UNSURE], [GOOD, UNMEASURED], STOP)
        for reason in recommend(weeks, POLICY).reasons
    ]
    return [w for w in warnings if w is not None] + reasons


def _english(said: early.EarlyWarning | Reason) -> str:
    return explain(said, locale="en")


def _japanese(said: early.EarlyWarning | Reason) -> str:
    return explain(said, locale="ja")


def test_every_sentence_kind_is_in_the_table_and_reads_as_the_kpis_message_in_english() -> None:
    sentences = _every_sentence()
    assert {s.code for s in sentences} == {key.split(":")[0] for key in SENTENCES}
    for said in sentences:
        assert _english(said) == said.message


@pytest.mark.parametrize("said", _every_sentence(), ids=lambda s: s.code)
def test_every_sentence_has_a_japanese_reading(said: early.EarlyWarning | Reason) -> None:
    japanese = _japanese(said)
    assert japanese != said.message
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in japanese)


def test_japanese_sentences_carry_their_numbers_in_the_locales_format() -> None:
    positive, holds, _ = recommend([GOOD, GOOD], POLICY).reasons
    assert (
        _japanese(positive)
        == "純削減額は 2 週間、確信をもってプラスでした（下限の最小値 1,234.50）。"
    )
    assert "0.80%" in _japanese(holds) and "1.00%" in _japanese(holds)
    stage = early.stage_overdue("limited_production", date(2025, 2, 1), date(2025, 2, 4))
    assert stage is not None and "「限定本番」" in _japanese(stage)


def test_an_unknown_code_or_params_keep_the_english_message() -> None:
    assert _japanese(Reason("brand_new", "Something new happened.")) == "Something new happened."
    odd = Reason("no_baseline", "No human-only baseline after x days.", {"days": "x"})
    assert _japanese(odd) == odd.message
