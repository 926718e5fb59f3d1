"""Consistency (the same question answered the same way) and the checker's agreement with the
reviewers' verdicts, on drafts whose answers are known: which drafts pair up, when a pair is
consistent, the 2 x 2 of flag and verdict, per week and arm, and "not measured" without data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deshi.kpis.definitions import DEFINITIONS
from deshi.kpis.drafting import DraftRecord, drafting_kpis, drafting_report
from deshi.kpis.drafting_agreement import (
    SAME_ANSWER_SIMILARITY,
    answer_key,
    answer_pairs,
    checker_agreement,
    consistency,
    question_key,
)

MONDAY = datetime(2026, 11, 30, 9, tzinfo=UTC)  # ISO week 2026-W49
NEXT_MONDAY = datetime(2026, 12, 7, 9, tzinfo=UTC)  # 2026-W50
ANSWER = "Your new card arrives within 5 working days [1]. Freeze it in the app after 7 days [1]."


def _draft(
    minute: int, item_id: int | None, question: str = "Where is my card?", **fields: object
) -> DraftRecord:
    defaults: dict[str, object] = {
        "created_at": MONDAY + timedelta(minutes=minute),
        "sentences": 2,
        "supported_sentences": 2,
        "has_unsupported_claim": False,
        "item_id": item_id,
        "question": question,
        "text": ANSWER,
        "cited_documents": frozenset({1}),
    }
    return DraftRecord(**{**defaults, **fields})  # type: ignore[arg-type]


def test_questions_match_whatever_their_case_width_spacing_and_punctuation() -> None:
    assert question_key("Where is MY card?!") == question_key("  where is my card ")
    assert question_key("カードが届きません！") == question_key("カードが届きません!")
    assert question_key("ＡＴＭで引き出せない") == question_key("atmで引き出せない")
    assert question_key("Where is my card?") != question_key("Where is my refund?")


def test_answers_are_compared_without_their_citation_numbers() -> None:
    assert answer_key("Freeze the card [1]. Order a new one [2].") == answer_key(
        "Freeze the card [3]. Order a new one [1]."
    )


def test_each_draft_pairs_with_the_latest_earlier_draft_of_its_question_for_another_item() -> None:
    first = _draft(0, item_id=1)
    redrafted = _draft(1, item_id=1)  # the same item again: no new question
    second = _draft(2, item_id=2)
    third = _draft(3, item_id=3)
    third_again = _draft(4, item_id=3)  # item 3 again: pairs with item 2's draft
    other = _draft(5, item_id=4, question="How do I top up?")
    no_item = _draft(6, item_id=None)

    pairs = answer_pairs([third, first, other, second, third_again, redrafted, no_item])

    assert pairs == [(redrafted, second), (second, third), (second, third_again)]


def test_a_pair_is_consistent_with_the_same_documents_and_alike_texts() -> None:
    reworded = ANSWER.replace("Freeze it in the app", "Please freeze it in the app")
    different = "Top-ups by card are free [1]."
    drafts = [
        _draft(0, item_id=1),
        _draft(1, item_id=2, text=reworded),  # ≥ 80% alike, same document: consistent
        _draft(2, item_id=3, text=reworded, cited_documents=frozenset({1, 2})),  # another source
        _draft(3, item_id=4, text=different, cited_documents=frozenset({1, 2})),  # another answer
        _draft(4, item_id=5, text=different, cited_documents=frozenset({1, 2})),  # consistent
    ]

    found = consistency(drafts)

    assert (found.pairs, found.same_sources, found.same_text) == (4, 3, 3)
    assert found.rate is not None and found.rate.value == 2 / 4 and found.rate.n == 4
    assert found.rate.low < 0.5 < found.rate.high


def test_two_drafts_citing_nothing_agree_on_their_sources() -> None:
    refusal = "Nothing in the documents answers this."
    found = consistency(
        [
            _draft(0, item_id=1, text=refusal, cited_documents=frozenset()),
            _draft(1, item_id=2, text=refusal, cited_documents=frozenset()),
        ]
    )
    assert found.rate is not None and found.rate.value == 1.0


def test_without_a_repeated_question_consistency_is_not_measured() -> None:
    found = consistency([_draft(0, item_id=1), _draft(1, item_id=2, question="Refund?")])
    assert found.pairs == 0 and found.rate is None
    assert drafting_kpis([]).consistency.rate is None


def test_the_checker_against_the_verdicts_is_a_two_by_two_table() -> None:
    drafts = [
        _draft(0, 1, has_unsupported_claim=True, verdict="rejected"),
        _draft(1, 2, has_unsupported_claim=True, verdict="edited"),
        _draft(2, 3, has_unsupported_claim=True, verdict="accepted"),
        _draft(3, 4, has_unsupported_claim=False, verdict="edited"),
        _draft(4, 5, has_unsupported_claim=False, verdict="accepted"),
        _draft(5, 6, has_unsupported_claim=False, verdict="accepted"),
        _draft(6, 7, has_unsupported_claim=True),  # not judged: not in the table
    ]

    found = checker_agreement(drafts)

    assert (
        found.flagged_changed,
        found.flagged_accepted,
        found.unflagged_changed,
        found.unflagged_accepted,
    ) == (2, 1, 1, 2)
    assert found.precision is not None and found.precision.value == pytest.approx(2 / 3)
    assert found.precision.n == 3
    assert found.recall is not None and found.recall.value == pytest.approx(2 / 3)
    assert found.recall.n == 3


def test_without_flags_or_changes_precision_and_recall_are_not_measured() -> None:
    found = checker_agreement([_draft(0, 1, verdict="accepted"), _draft(1, 2)])
    assert found.precision is None and found.recall is None
    assert found.unflagged_accepted == 1


def test_the_report_pairs_questions_within_each_week_and_arm() -> None:
    drafts = [
        _draft(0, item_id=1, arm="assisted"),
        _draft(1, item_id=2, arm="assisted"),
        _draft(2, item_id=3, arm="ai_led"),
        _draft(0, item_id=4, arm="ai_led", created_at=NEXT_MONDAY),
    ]

    report = drafting_report(drafts, process_id=1)

    assert report.overall.consistency.pairs == 3
    assert [w.consistency.pairs for w in report.weeks] == [2, 0]
    assert report.weeks[1].consistency.rate is None
    assert {arm: k.consistency.pairs for arm, k in report.arms.items()} == {
        "ai_led": 1,
        "assisted": 1,
    }


def test_the_definition_states_the_threshold_the_code_uses() -> None:
    [definition] = [d for d in DEFINITIONS if d.key == "draft_consistency"]
    assert f"{SAME_ANSWER_SIMILARITY:.0%}" in definition.text
