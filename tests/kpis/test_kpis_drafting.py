"""The drafting KPIs on drafts whose answers are known: faithfulness over sentences, the two
hallucination rates, acceptance, the median edit distance and guardrail firings, per week and
per arm."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deshi.kpis.drafting import DraftRecord, drafting_kpis, drafting_report

MONDAY = datetime(2026, 11, 30, 9, tzinfo=UTC)  # ISO week 2026-W49
NEXT_MONDAY = datetime(2026, 12, 7, 9, tzinfo=UTC)  # 2026-W50


def _draft(**fields: object) -> DraftRecord:
    defaults: dict[str, object] = {
        "created_at": MONDAY,
        "sentences": 2,
        "supported_sentences": 2,
        "has_unsupported_claim": False,
    }
    return DraftRecord(**{**defaults, **fields})  # type: ignore[arg-type]


DRAFTS = [
    _draft(verdict="accepted", edit_distance=0.0, arm="assisted"),
    _draft(
        sentences=4,
        supported_sentences=3,
        has_unsupported_claim=True,
        verdict="edited",
        edit_distance=0.3,
        redactions=2,
        arm="assisted",
    ),
    _draft(verdict="rejected", refusals=1, arm="ai_led"),
    _draft(
        created_at=NEXT_MONDAY, sentences=2, supported_sentences=0, has_unsupported_claim=True,
        verdict="edited", edit_distance=0.5, injection_blocks=1,
    ),
    _draft(created_at=NEXT_MONDAY, model_failures=1),
]  # fmt: skip


def test_the_kpis_of_known_drafts() -> None:
    kpis = drafting_kpis(DRAFTS)

    assert (kpis.drafts, kpis.judged) == (5, 4)
    assert kpis.faithfulness is not None and kpis.faithfulness.value == pytest.approx(9 / 12)
    assert kpis.faithfulness.n == 12  # sentences
    assert kpis.unsupported_claims is not None and kpis.unsupported_claims.value == 2 / 5
    assert kpis.reviewer_changes is not None and kpis.reviewer_changes.value == 3 / 4
    assert kpis.acceptance is not None and kpis.acceptance.value == 1 / 4
    assert kpis.edit_distance is not None and kpis.edit_distance.value == pytest.approx(0.3)
    assert kpis.edit_distance.n == 3  # the rejected draft has no final text
    guardrails = kpis.guardrails
    assert guardrails.fired is not None and guardrails.fired.value == 4 / 5
    assert (
        guardrails.redactions,
        guardrails.refusals,
        guardrails.injection_blocks,
        guardrails.model_failures,
    ) == (2, 1, 1, 1)


def test_every_share_comes_with_an_interval_around_it() -> None:
    kpis = drafting_kpis(DRAFTS, confidence=0.9)
    for share in (kpis.faithfulness, kpis.unsupported_claims, kpis.acceptance):
        assert share is not None and share.low < share.value < share.high


def test_no_drafts_measure_nothing() -> None:
    kpis = drafting_kpis([])
    assert kpis.drafts == 0 and kpis.faithfulness is None and kpis.acceptance is None
    assert kpis.edit_distance is None and kpis.guardrails.fired is None


def test_unjudged_drafts_leave_acceptance_unmeasured() -> None:
    kpis = drafting_kpis([_draft(), _draft()])
    assert kpis.faithfulness is not None and kpis.faithfulness.value == 1.0
    assert kpis.acceptance is None and kpis.reviewer_changes is None


def test_the_report_splits_by_week_and_by_arm() -> None:
    report = drafting_report(DRAFTS, process_id=7)

    assert [(w.week, w.drafts) for w in report.weeks] == [("2026-W49", 3), ("2026-W50", 2)]
    assert report.weeks[1].acceptance is not None and report.weeks[1].acceptance.value == 0.0
    assert {arm: k.drafts for arm, k in report.arms.items()} == {"ai_led": 1, "assisted": 2}
    assisted = drafting_report(DRAFTS, process_id=7, arm="assisted")
    assert assisted.overall.drafts == 2 and assisted.arm == "assisted"
    assert assisted.overall.acceptance is not None and assisted.overall.acceptance.value == 0.5
