"""`run_backtest(..., history=...)`: the warm start before the live stream (issue #22, point 3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from deshi.engine.types import Route
from deshi.sim.backtest import BacktestSettings, run_backtest
from deshi.sim.dataset import Dataset, LabelledItem

MakeAgent = Callable[..., Any]


def _dataset(source: str, pairs: list[tuple[str, str]]) -> Dataset:
    items = tuple(
        LabelledItem(case_id=f"row-{n}", text=text, label=label)
        for n, (text, label) in enumerate(pairs, start=1)
    )
    return Dataset(source, items)


HISTORY = _dataset("history.csv", [("hello", "greet"), ("bye", "farewell")] * 3).renamed("h-")
LIVE = _dataset("live.csv", [("hello", "greet"), ("bye", "farewell"), ("hi", "greet")])


def _auto_from_third_live_item(_text: str, position: int) -> Route:
    """Decisions are asked for live items only: position 0 is the first live item."""
    return Route.AUTO if position >= 2 else Route.REVIEW


def test_history_is_taken_in_as_reviewed_items_then_trained_on_before_the_first_live_item(
    make_fake_agent: MakeAgent,
) -> None:
    agent = make_fake_agent(retrain_every=100)
    result = run_backtest(LIVE, settings=BacktestSettings(), agent=agent, history=HISTORY)

    taken_in = agent.recorded[: len(HISTORY.items)]
    assert [o.case_id for o in taken_in] == [item.case_id for item in HISTORY.items]
    assert all(o.route is Route.REVIEW and o.audit_rate == 1.0 for o in taken_in)
    assert [o.label for o in taken_in] == [item.label for item in HISTORY.items]
    assert agent.recorded[len(HISTORY.items)].case_id == "row-1"  # live after history
    assert agent.decided == len(LIVE.items)  # history items are recorded, never decided
    assert result.items == len(LIVE.items)  # the figures are the live stream's
    assert result.history is not None
    assert (result.history.items, result.history.labels) == (6, 2)
    assert result.history.threshold == 0.51  # what the retrain on the history reported
    assert result.retrains == 0  # the warm start's retrain is not a live one


def test_first_auto_index_is_the_position_of_the_first_auto_completed_live_item(
    make_fake_agent: MakeAgent,
) -> None:
    agent = make_fake_agent(_auto_from_third_live_item)
    result = run_backtest(LIVE, settings=BacktestSettings(), agent=agent, history=HISTORY)

    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["first_auto_index"] == 2
    assert summary["history"]["items"] == 6
    assert summary["history"]["source"] == "history.csv"


def test_without_history_nothing_is_taken_in_and_no_auto_means_no_index(
    make_fake_agent: MakeAgent,
) -> None:
    agent = make_fake_agent()
    result = run_backtest(LIVE, settings=BacktestSettings(), agent=agent)

    assert [o.case_id for o in agent.recorded] == ["row-1", "row-2", "row-3"]
    summary = result.to_dict()
    assert summary["first_auto_index"] is None
    assert summary["history"] is None


def test_renamed_keeps_history_case_ids_apart_from_the_streams() -> None:
    assert [item.case_id for item in HISTORY.items[:2]] == ["h-row-1", "h-row-2"]
    assert {i.case_id for i in HISTORY.items}.isdisjoint({i.case_id for i in LIVE.items})
