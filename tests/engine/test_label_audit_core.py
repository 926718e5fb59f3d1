"""`find_suspects`, the label audit's arithmetic without storage: guards for inputs it cannot
audit, and the ranking signals on rows whose wrong labels the test planted."""

from __future__ import annotations

import pytest

from deshi.engine.label_audit import (
    CONFLICTING_DUPLICATE,
    MIN_AUDITED,
    MODEL_DISAGREES,
    find_suspects,
)

TOPICS = {
    "card": ["card", "debit card", "credit card", "card pin"],
    "refund": ["refund", "money back", "return payment", "reimbursement"],
}


def _rows(n: int) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for i in range(n):
        label = sorted(TOPICS)[i % 2]
        words = TOPICS[label]
        texts.append(f"request {i} about my {words[i % len(words)]} please help {i * 7}")
        labels.append(label)
    return texts, labels


def test_too_few_rows_or_one_label_is_not_audited() -> None:
    texts, labels = _rows(MIN_AUDITED - 1)
    small = find_suspects(texts, labels, featurizer="tfidf")
    texts, _ = _rows(40)
    single = find_suspects(texts, ["card"] * 40, featurizer="tfidf")

    for found in (small, single):
        assert not found.audited and found.suspects == () and found.noise_rate is None


def test_texts_and_labels_must_pair_up() -> None:
    with pytest.raises(ValueError, match="3 texts but 2 labels"):
        find_suspects(["a", "b", "c"], ["x", "y"], featurizer="tfidf")


def test_a_swapped_label_is_found_with_the_likelier_label_suggested() -> None:
    texts, labels = _rows(80)
    labels[5] = "refund" if labels[5] == "card" else "card"
    truth = "card" if labels[5] == "refund" else "refund"

    found = find_suspects(texts, labels, featurizer="tfidf")

    suspect = next(s for s in found.suspects if s.index == 5)
    assert MODEL_DISAGREES in suspect.reasons and suspect.suggested == truth
    assert found.noise_rate == found.model_flags / 80
    assert found.with_reason(MODEL_DISAGREES) == found.model_flags


def test_a_duplicate_with_another_label_is_flagged_for_that_reason() -> None:
    texts, labels = _rows(60)
    texts.append(texts[0])
    labels.append("refund" if labels[0] == "card" else "card")

    found = find_suspects(texts, labels, featurizer="tfidf")

    twins = [s for s in found.suspects if s.index in (0, 60)]
    assert len(twins) == 2 and all(CONFLICTING_DUPLICATE in s.reasons for s in twins)
