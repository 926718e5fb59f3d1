"""Randomized arms: deterministic per item, in the requested proportions, blind to content."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, chisquare

from deshi.items import routing
from deshi.items.arms import assign_arm

PROPORTIONS = {"human_only": 0.2, "assisted": 0.3, "ai_led": 0.5}


@given(key=st.text(max_size=40), seed=st.integers(0, 10**6))
def test_a_retried_item_gets_the_same_arm(key: str, seed: int) -> None:
    assert assign_arm(key, PROPORTIONS, seed) == assign_arm(key, PROPORTIONS, seed)


@given(key=st.text(max_size=40))
def test_the_arm_does_not_depend_on_the_order_of_the_proportions(key: str) -> None:
    reordered = dict(reversed(list(PROPORTIONS.items())))
    assert assign_arm(key, PROPORTIONS, 7) == assign_arm(key, reordered, 7)


@given(key=st.text(max_size=40))
def test_an_arm_with_zero_share_is_never_drawn(key: str) -> None:
    assert assign_arm(key, {"human_only": 0.0, "assisted": 1.0, "ai_led": 0.0}) == "assisted"


def test_arms_follow_the_requested_proportions() -> None:
    keys = [f"item-{i}" for i in range(20_000)]
    counts = Counter(assign_arm(key, PROPORTIONS, seed=3) for key in keys)
    arms = sorted(PROPORTIONS)
    observed = [counts[arm] for arm in arms]
    expected = [PROPORTIONS[arm] * len(keys) for arm in arms]
    assert chisquare(observed, expected).pvalue > 0.001


def test_relative_shares_are_normalised() -> None:
    keys = [f"k{i}" for i in range(10_000)]
    counts = Counter(assign_arm(key, {"a": 1, "b": 3}, seed=1) for key in keys)
    assert chisquare([counts["a"], counts["b"]], [2500, 7500]).pvalue > 0.001


def test_arms_are_independent_of_the_item_text() -> None:
    rng = np.random.default_rng(9)
    topics = ["refund request", "card lost", "address change", "exchange rate"]
    table = np.zeros((len(topics), len(PROPORTIONS)), dtype=np.int64)
    arm_index = {arm: i for i, arm in enumerate(sorted(PROPORTIONS))}
    for i in range(12_000):
        topic = int(rng.integers(len(topics)))
        arm = assign_arm(f"ticket-{i}", PROPORTIONS, seed=5)  # key = id, never the text
        table[topic, arm_index[arm]] += 1
    assert chi2_contingency(table).pvalue > 0.001


def test_different_seeds_give_different_assignments() -> None:
    keys = [f"item-{i}" for i in range(200)]
    first = [assign_arm(key, PROPORTIONS, seed=1) for key in keys]
    second = [assign_arm(key, PROPORTIONS, seed=2) for key in keys]
    assert first != second


@pytest.mark.parametrize(
    "proportions",
    [{}, {"a": -0.1, "b": 1.1}, {"a": 0.0, "b": 0.0}, {"a": math.inf, "b": 1.0}, {"a": math.nan}],
)
def test_invalid_proportions_are_rejected(proportions: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="proportions"):
        assign_arm("x", proportions)


def test_huge_shares_are_drawn_by_their_ratio() -> None:
    keys = [f"item-{i}" for i in range(400)]
    huge = [assign_arm(key, {"a": 1e308, "b": 1e308}) for key in keys]
    assert huge == [assign_arm(key, {"a": 0.5, "b": 0.5}) for key in keys]


def test_stored_arms_that_are_not_finite_numbers_are_ignored_when_routing() -> None:
    stored = {"human_only": 1e308, "ai_led": 1e308, "assisted": "nan", "x": None}
    arms = {routing.assign_arm(stored, f"item-{i}") for i in range(200)}
    assert arms == {"human_only", "ai_led"}
    assert routing.assign_arm({"ai_led": float("inf")}, "item-1") is None
