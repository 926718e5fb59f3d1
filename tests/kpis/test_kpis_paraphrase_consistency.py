"""Paraphrase consistency on synthetic message vectors: which drafts pair up (the most recent
earlier draft of another item at or above the threshold, exact repeats included), which do not
(below it, the same item, no vector, another embedder's width), that it agrees with a brute
force over every pair, and that the exact consistency figure is unchanged by it."""

from __future__ import annotations

import numpy as np
import pytest
from test_kpis_drafting_agreement import ANSWER
from test_kpis_drafting_agreement import _draft as _text_draft

from deshi.kpis.drafting import DraftRecord, drafting_kpis, drafting_report
from deshi.kpis.drafting_agreement import (
    PARAPHRASE_SIMILARITY,
    _latest_partners,
    consistency,
    paraphrase_consistency,
    paraphrase_pairs,
)
from deshi.kpis.records import Arm, iso_week

OTHER = "Exchange rates follow the interbank rate [2]."


def _unit(*values: float) -> bytes:
    vector = np.asarray(values, dtype=np.float64)
    return (vector / np.linalg.norm(vector)).astype("<f4").tobytes()


def _at_cosine(cosine: float) -> bytes:
    """A unit vector whose cosine with `CARD` is `cosine`."""
    return _unit(cosine, float(np.sqrt(1 - cosine * cosine)), 0.0)


CARD = _unit(1.0, 0.0, 0.0)
NEAR = _at_cosine(0.99)  # a paraphrase of CARD
FAR = _unit(0.90, 0.0, float(np.sqrt(1 - 0.81)))  # another question of the domain: below it


def _draft(
    minute: int, item_id: int | None, vector: bytes | None, question: str, **fields: object
) -> DraftRecord:
    return _text_draft(minute, item_id, question, vector=vector, **fields)


def test_a_paraphrase_pairs_with_the_most_recent_earlier_draft_of_another_item() -> None:
    first = _draft(0, 1, CARD, "Where is my card?")
    second = _draft(1, 2, NEAR, "My card has not arrived yet")
    redrafted = _draft(2, 2, NEAR, "My card has not arrived yet")  # item 2 again
    third = _draft(3, 3, CARD, "When will my card come?")
    pairs = paraphrase_pairs([third, redrafted, first, second])  # any order: sorted by time
    assert pairs == [(first, second), (first, redrafted), (redrafted, third)]


def test_only_drafts_of_another_item_at_or_above_the_threshold_pair() -> None:
    drafts = [
        _draft(0, 1, CARD, "Where is my card?"),
        _draft(1, 1, CARD, "Where is my card?"),  # the same item: not a pair
        _draft(2, 2, FAR, "What is the exchange rate?"),  # 0.90 < 0.97: not a pair
        _draft(3, 3, None, "Where is my card?"),  # no vector: left out
        _draft(4, None, CARD, "Where is my card?"),  # no item: left out
        _draft(5, 4, _unit(1.0, 0.0), "Where is my card?"),  # another embedder's width
    ]
    assert paraphrase_pairs(drafts) == []
    at_threshold = _draft(6, 5, _at_cosine(PARAPHRASE_SIMILARITY + 1e-5), "Card?")
    assert paraphrase_pairs([*drafts, at_threshold]) == [(drafts[1], at_threshold)]
    assert paraphrase_pairs(drafts, threshold=0.85)[0] == (drafts[1], drafts[2])


def test_a_pair_is_consistent_by_the_exact_figures_rule_and_exact_repeats_are_counted() -> None:
    drafts = [
        _draft(0, 1, CARD, "Where is my card?"),
        _draft(1, 3, CARD, "where is my CARD"),  # an exact repeat of the first: consistent
        _draft(2, 2, NEAR, "My card has not arrived"),  # same sources, same text: consistent
        _draft(3, 4, NEAR, "Card not here", text=OTHER, cited_documents=frozenset({2})),
    ]
    found = paraphrase_consistency(drafts)
    assert (found.pairs, found.exact_repeats, found.same_sources, found.same_text) == (3, 1, 2, 2)
    assert found.threshold == PARAPHRASE_SIMILARITY
    assert found.rate is not None and found.rate.value == pytest.approx(2 / 3)
    assert found.rate.n == 3

    exact = consistency(drafts)  # the literal figure sees the repeat only
    assert (exact.pairs, exact.same_sources, exact.same_text) == (1, 1, 1)


def test_without_vectors_nothing_is_measured_and_the_exact_figure_is_unchanged() -> None:
    drafts = [_draft(n, n + 1, None, "Where is my card?") for n in range(3)]
    kpis = drafting_kpis(drafts)
    assert kpis.paraphrase_consistency.pairs == 0 and kpis.paraphrase_consistency.rate is None
    assert kpis.consistency == consistency(drafts)
    assert kpis.consistency.pairs == 2


def test_the_report_measures_paraphrases_per_arm_and_week() -> None:
    drafts = [
        _draft(0, 1, CARD, "Where is my card?", arm="assisted"),
        _draft(1, 2, NEAR, "My card has not arrived", arm="ai_led"),
        _draft(2, 3, NEAR, "Still no card", arm="assisted"),
        _draft(60 * 24 * 7, 4, CARD, "Card?", arm="assisted"),  # the next week
    ]
    report = drafting_report(drafts, process_id=1)
    assert report.overall.paraphrase_consistency.pairs == 3
    assert [w.paraphrase_consistency.pairs for w in report.weeks] == [2, 0]
    assert report.arms["assisted"].paraphrase_consistency.pairs == 2  # within its arm
    assert report.arms["ai_led"].paraphrase_consistency.pairs == 0
    assisted = drafting_report(drafts, process_id=1, arm="assisted")
    assert assisted.overall.paraphrase_consistency.pairs == 2


@pytest.mark.parametrize("threshold", [0.5, 0.9, 0.97, 0.995])
def test_the_filtered_search_finds_what_a_brute_force_finds(threshold: float) -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, 24))
    vectors = centres[rng.integers(0, 40, 1_300)] + 0.08 * rng.standard_normal((1_300, 24))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    items = rng.integers(0, 900, 1_300).astype(np.int64)  # some items drafted twice
    groups = rng.integers(0, 3, 1_300).astype(np.int64)
    found, found_in_group = _latest_partners(vectors, items, groups, threshold)

    cosines = vectors @ vectors.T
    expected, expected_in_group = np.full(len(vectors), -1), np.full(len(vectors), -1)
    for row in range(len(vectors)):
        alike = (cosines[row, :row] >= threshold) & (items[:row] != items[row])
        earlier = np.nonzero(alike)[0]
        expected[row] = earlier.max() if len(earlier) else -1
        earlier = np.nonzero(alike & (groups[:row] == groups[row]))[0]
        expected_in_group[row] = earlier.max() if len(earlier) else -1
    assert (found == expected).all() and (found_in_group == expected_in_group).all()
    assert (expected_in_group >= 0).sum() > 50  # the case is not vacuous


@pytest.mark.parametrize("arm", [None, "assisted"])
def test_the_reports_sets_equal_each_set_measured_on_its_own(arm: Arm | None) -> None:
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((30, 16))
    arms = ["assisted", "ai_led", "human_only"]
    drafts = []
    for n in range(900):
        vector = centres[rng.integers(0, 30)] + 0.02 * rng.standard_normal(16)
        drafts.append(
            _draft(
                int(n * 40),  # 900 drafts over about 25 days: four ISO weeks
                int(rng.integers(1, 700)),
                (vector / np.linalg.norm(vector)).astype("<f4").tobytes(),
                f"q{n}",
                arm=arms[int(rng.integers(0, 3))],
                text=ANSWER if rng.random() < 0.7 else OTHER,
            )
        )
    report = drafting_report(drafts, process_id=1, arm=arm)
    chosen = [d for d in drafts if arm is None or d.arm == arm]
    assert report.overall.paraphrase_consistency == paraphrase_consistency(chosen)
    assert report.overall.paraphrase_consistency.pairs > 100
    assert len(report.weeks) >= 3
    for week in report.weeks:
        group = [d for d in chosen if iso_week(d.created_at) == week.week]
        assert week.paraphrase_consistency == paraphrase_consistency(group), week.week
    for name, kpis in report.arms.items():
        group = [d for d in drafts if d.arm == name]
        assert kpis.paraphrase_consistency == paraphrase_consistency(group), name
