"""Model layer: accuracy, calibration error, realized auto-complete error on audits."""

from __future__ import annotations

import numpy as np
import pytest
from kpi_records import MONDAY, audit_item, auto_item, open_item, reviewed_item

from deshi.engine.metrics import Estimate, calibration_error_estimate
from deshi.engine.stats import clopper_pearson_interval, wilson_interval
from deshi.kpis.model_quality import (
    accuracy,
    calibration_error,
    error_budget_holds,
    realized_auto_error,
)


def test_accuracy_counts_only_items_with_both_labels() -> None:
    items = [
        reviewed_item(final="a"),
        reviewed_item(final="a", route="audit"),
        reviewed_item(final="b", action="correct"),
        auto_item(),  # truth unknown
        open_item(created=MONDAY),  # not reviewed yet
        reviewed_item(agent=None, arm="human_only"),  # no agent label
    ]
    estimate = accuracy(items)
    assert estimate is not None
    assert estimate.value == pytest.approx(2 / 3)
    assert estimate.n == 3
    assert (estimate.low, estimate.high) == pytest.approx(wilson_interval(2, 3, 0.05))


def test_accuracy_without_reviews_is_undefined() -> None:
    assert accuracy([auto_item()]) is None


def test_realized_auto_error_uses_only_the_blind_audit_sample() -> None:
    items = [audit_item(wrong=True)] + [audit_item() for _ in range(3)]
    items += [reviewed_item(final="b", action="correct") for _ in range(10)]  # hard, not audits
    estimate = realized_auto_error(items, confidence=0.9)
    assert estimate is not None
    assert estimate.value == pytest.approx(0.25)
    assert estimate.n == 4
    assert (estimate.low, estimate.high) == pytest.approx(clopper_pearson_interval(1, 4, 0.1))


def test_audits_estimate_the_auto_error_where_review_route_errors_would_overstate_it() -> None:
    rng = np.random.default_rng(5)
    items = []
    for day in range(2000):
        if rng.uniform() < 0.3:  # low-confidence items go to review and are often wrong
            items.append(reviewed_item(day=day / 100, final="b" if rng.uniform() < 0.4 else "a"))
        elif rng.uniform() < 0.1:  # 10% of would-be-auto items are audited blind
            items.append(audit_item(day=day / 100, wrong=bool(rng.uniform() < 0.02)))
        else:
            items.append(auto_item(day=day / 100))
    estimate = realized_auto_error(items)
    assert estimate is not None
    assert estimate.contains(0.02)
    assert estimate.high < 0.4


def test_realized_auto_error_without_audits_is_undefined() -> None:
    assert realized_auto_error([auto_item(), reviewed_item()]) is None


@pytest.mark.parametrize(
    ("auto_error", "holds"),
    [
        (Estimate(0.002, 0.0, 0.009, 500), True),
        (Estimate(0.002, 0.0, 0.010, 500), True),
        (Estimate(0.004, 0.0, 0.020, 100), False),
        (None, False),
    ],
)
def test_error_budget_holds_only_when_the_upper_bound_is_within_it(
    auto_error: Estimate | None, holds: bool
) -> None:
    assert error_budget_holds(auto_error, 0.01) is holds


def test_calibration_error_uses_reviewed_items_with_a_confidence() -> None:
    items = [
        reviewed_item(confidence=0.9, final="a"),
        reviewed_item(confidence=0.9, final="b", action="correct"),
        reviewed_item(confidence=0.6, final="a"),
        reviewed_item(confidence=0.6, final="a"),
        reviewed_item(confidence=None, final="b"),  # no confidence recorded: ignored
    ]
    estimate = calibration_error(items, seed=1)
    assert estimate is not None
    assert estimate.value == pytest.approx(0.4)
    assert estimate.n == 4
    assert calibration_error(items, seed=1) == estimate


@pytest.mark.parametrize("n", [1, 2, 9, 640, 4100])
def test_calibration_error_equals_the_engines_estimate_to_the_last_bit(n: int) -> None:
    # the KPIs count each bootstrap resample's hits from one gathered key (faster); the interval
    # must stay the engine's float for float. 4,100 items span several blocks of resamples;
    # confidences of 0.0 and 1.0 and every decile's edge test the binning.
    rng = np.random.default_rng(n)
    edges = [0.0, 1.0, 0.1, 0.3, 0.7, 0.9]
    confidences = [edges[i] if i < len(edges) else float(rng.random()) for i in range(n)]
    right = [bool(rng.random() < 0.8) for _ in range(n)]
    items = [
        reviewed_item(confidence=c, final="a" if ok else "b", action="accept" if ok else "correct")
        for c, ok in zip(confidences, right, strict=True)
    ]
    for seed, bins, level in [(0, 10, 0.95), (3, 7, 0.9)]:
        expected = calibration_error_estimate(
            confidences, right, bins=bins, confidence=level, resamples=300, seed=seed
        )
        found = calibration_error(items, bins=bins, confidence=level, resamples=300, seed=seed)
        assert found == expected


def test_a_remembered_calibration_error_is_the_one_its_own_inputs_give() -> None:
    # the bootstrap is remembered by a digest of its inputs: a changed answer, an added item
    # or another setting is a new computation, never the remembered one
    rng = np.random.default_rng(11)
    items = [
        reviewed_item(confidence=float(rng.random()), final="a" if rng.random() < 0.7 else "b")
        for _ in range(500)
    ]
    flipped = [*items[:-1], reviewed_item(confidence=items[-1].confidence, final="z")]
    grown = [*items, reviewed_item(confidence=0.5, final="a")]
    for changed in (items, flipped, grown, items):
        judged = [item for item in changed if item.confidence is not None]
        expected = calibration_error_estimate(
            [item.confidence or 0.0 for item in judged],
            [bool(item.agent_was_right) for item in judged],
        )
        assert calibration_error(changed) == expected
        assert calibration_error(changed) == expected  # read back from the memo
    assert calibration_error(items, seed=1) != calibration_error(items)


def test_calibration_error_without_confidences_is_undefined() -> None:
    assert calibration_error([reviewed_item()]) is None
