"""The backtest loop, driven with a scripted agent so that every count is known in advance."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from deshi.engine.types import Policy, Route
from deshi.sim.backtest import BacktestProgress, BacktestSettings, run_backtest
from deshi.sim.dataset import Dataset, LabelledItem

MakeAgent = Callable[..., Any]


def _dataset(pairs: list[tuple[str, str]], **skipped: int) -> Dataset:
    items = tuple(
        LabelledItem(case_id=f"row-{n}", text=text, label=label)
        for n, (text, label) in enumerate(pairs, start=1)
    )
    return Dataset("memory", items, **skipped)


REPEATED = _dataset([("hello", "greet"), ("bye", "farewell")] * 6)  # 12 items


def _auto_after_first_two(_text: str, position: int) -> Route:
    return Route.REVIEW if position < 2 else Route.AUTO


def test_reviewed_items_teach_the_true_label_and_auto_items_teach_nothing(
    make_fake_agent: MakeAgent,
) -> None:
    agent = make_fake_agent(_auto_after_first_two)
    run_backtest(REPEATED, settings=BacktestSettings(window=5), agent=agent)

    labels = [observation.label for observation in agent.recorded]
    assert labels[:2] == ["greet", "farewell"]
    assert labels[2:] == [None] * 10
    assert [o.case_id for o in agent.recorded] == [item.case_id for item in REPEATED.items]
    assert all(o.audit_rate == agent.config.policy.audit_rate for o in agent.recorded)


def test_audited_items_are_answered_with_the_truth_and_count_as_human_reviews(
    make_fake_agent: MakeAgent,
) -> None:
    def audit_every_third(_text: str, position: int) -> Route:
        return Route.AUDIT if position % 3 == 0 else Route.AUTO

    agent = make_fake_agent(audit_every_third)
    result = run_backtest(REPEATED, settings=BacktestSettings(), agent=agent)

    assert result.audits == 4
    assert result.human_reviews == 4
    assert result.auto == 8
    audited = [o for o in agent.recorded if o.route is Route.AUDIT]
    assert [o.label for o in audited] == ["greet", "farewell", "greet", "farewell"]


def test_counts_add_up_and_windows_cover_the_stream(make_fake_agent: MakeAgent) -> None:
    result = run_backtest(
        REPEATED, settings=BacktestSettings(window=5), agent=make_fake_agent(_auto_after_first_two)
    )

    assert result.items == 12
    assert result.auto + result.human_reviews == result.items
    assert result.automation_rate == pytest.approx(10 / 12)
    assert [(w.start, w.end) for w in result.windows] == [(0, 5), (5, 10), (10, 12)]
    assert sum(w.auto for w in result.windows) == result.auto
    assert sum(w.correct for w in result.windows) == result.correct


def test_auto_error_is_exact_against_the_truth(make_fake_agent: MakeAgent) -> None:
    # The fake answers unseen texts with the first label it learned: "greet" for "bye" is wrong.
    stream = _dataset([("hello", "greet"), ("bye", "farewell"), ("bye", "farewell")])

    def review_only_the_first(_text: str, position: int) -> Route:
        return Route.REVIEW if position == 0 else Route.AUTO

    result = run_backtest(
        stream, settings=BacktestSettings(), agent=make_fake_agent(review_only_the_first)
    )

    assert (result.auto, result.auto_errors) == (2, 2)
    assert result.auto_error_rate == 1.0
    assert result.accuracy == 0.0  # no label at all for the first item, then two wrong ones
    assert result.windows[0].error == 1.0


def test_auto_error_upper_bound_is_above_the_realized_rate(make_fake_agent: MakeAgent) -> None:
    result = run_backtest(
        REPEATED, settings=BacktestSettings(), agent=make_fake_agent(_auto_after_first_two)
    )

    assert result.auto_errors == 0
    assert 0.0 < result.auto_error_upper < 0.5
    assert result.within_budget is False  # ten clean items cannot show a 1% error budget


def test_agent_is_retrained_whenever_it_is_due(make_fake_agent: MakeAgent) -> None:
    agent = make_fake_agent(retrain_every=3)
    result = run_backtest(REPEATED, settings=BacktestSettings(window=6), agent=agent)

    assert result.retrains == 4  # 12 reviewed items, a retrain after every third
    assert result.promotions == 4
    assert [w.model_version for w in result.windows] == [1, 3]  # in force at each window's end
    assert result.final_threshold == pytest.approx(0.53)


def test_window_without_auto_completions_has_no_error_figure(make_fake_agent: MakeAgent) -> None:
    result = run_backtest(REPEATED, settings=BacktestSettings(window=4), agent=make_fake_agent())

    assert all(w.error is None for w in result.windows)
    assert result.auto_error_rate == 0.0
    assert result.auto_error_upper == 1.0


def test_progress_is_reported_after_every_item(make_fake_agent: MakeAgent) -> None:
    seen: list[BacktestProgress] = []
    run_backtest(
        REPEATED,
        settings=BacktestSettings(),
        agent=make_fake_agent(_auto_after_first_two),
        on_progress=seen.append,
    )

    assert [p.done for p in seen] == list(range(1, 13))
    assert {p.total for p in seen} == {12}
    assert seen[-1].auto == 10
    assert seen[-1].automation_rate == pytest.approx(10 / 12)


def test_summary_is_json_ready_and_echoes_the_configuration(make_fake_agent: MakeAgent) -> None:
    stream = _dataset([("hello", "greet"), ("bye", "farewell")], skipped_blank_text=3)
    policy = Policy(error_budget=0.02, confidence=0.9, audit_rate=0.1)
    settings = BacktestSettings(policy=policy, seed=7)
    result = run_backtest(stream, settings=settings, agent=make_fake_agent())

    summary = json.loads(json.dumps(result.to_dict()))

    assert summary["items"] == 2
    assert summary["skipped_blank"] == 3
    assert summary["labels"] == ["farewell", "greet"]
    assert (summary["error_budget"], summary["confidence"], summary["audit_rate"]) == (
        0.02,
        0.9,
        0.1,
    )
    assert (summary["seed"], summary["featurizer"]) == (7, "tfidf")
    assert set(summary["windows"][0]) >= {
        "start",
        "end",
        "automation",
        "error",
        "accuracy",
        "threshold",
        "model_version",
    }


def test_clock_measures_seconds_and_throughput(make_fake_agent: MakeAgent) -> None:
    ticks = iter([10.0, 14.0])  # start and end: no progress callback, no other reads
    stream = _dataset([("hello", "greet"), ("bye", "farewell")])
    result = run_backtest(
        stream, settings=BacktestSettings(), agent=make_fake_agent(), clock=lambda: next(ticks)
    )

    assert result.seconds == 4.0
    assert result.throughput_items_per_s == 0.5


@pytest.mark.parametrize(("field", "value"), [("featurizer", "bag-of-words"), ("window", 0)])
def test_settings_reject_values_out_of_range(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        BacktestSettings(**{field: value})  # type: ignore[arg-type]


def test_each_observation_carries_what_the_agent_said(make_fake_agent: MakeAgent) -> None:
    """The monitor and champion/challenger compare answers with the agent's own label."""
    agent = make_fake_agent(_auto_after_first_two)
    run_backtest(REPEATED, settings=BacktestSettings(), agent=agent)
    assert all(o.confidence == 0.9 for o in agent.recorded)  # the fake's decisions say 0.9
    assert all(o.predicted_label is not None for o in agent.recorded[1:])  # known after item 1
