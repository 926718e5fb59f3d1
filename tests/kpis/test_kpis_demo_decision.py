"""The decision rule on the demo's process: twelve weeks of 700 items with the demo's arms,
audit rate, costs and handling times (`deshi.sim.demo_workspace.POLICY`,
`deshi.sim.demo_timing`), answered by an agent of known quality instead of a trained one (which
would take minutes). A healthy process reaches "scale" within the weeks; the same process with
errors injected into its audited answers reaches "stop".

The rule is read at the end of every week, as an owner reads the dashboard, through the same
functions as the service (`compute_kpis` → `period_evidence` → `recommend`).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from deshi.kpis.context import KpiContext
from deshi.kpis.kpi_report import compute_kpis, period_evidence
from deshi.kpis.recommend import Recommendation, recommend
from deshi.kpis.records import Arm, Costs, ItemRecord, KpiPolicy
from deshi.sim.demo_timing import DemoWeek, arrival_times, demo_weeks, handling_seconds
from deshi.sim.demo_workspace import POLICY as DEMO

WEEKS, ITEMS_PER_WEEK = 12, 700
NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday: twelve whole weeks before it
AUTO_SHARE = 0.6  # of the AI-led items, the share confident enough to complete alone
REVIEW_ACCURACY = 0.9  # on the items it is unsure of
AUTO_ERROR = 0.003  # on the items it would complete alone


def _context(error_budget: float) -> KpiContext:
    assert DEMO.hourly_rate is not None and DEMO.cost_per_escaped_error is not None
    costs = Costs(DEMO.hourly_rate, DEMO.cost_per_escaped_error, DEMO.currency or "USD")
    policy = KpiPolicy(error_budget=error_budget, confidence=DEMO.confidence or 0.95)
    return KpiContext(costs, policy, audit_rate=DEMO.audit_rate or 0.05)


def _arm(rng: random.Random) -> Arm:
    arms = DEMO.arms or {}
    names: list[Arm] = ["human_only", "assisted", "ai_led"]
    return rng.choices(names, weights=[arms[name] for name in names])[0]


def _item(at: datetime, rng: random.Random, *, audit_error: float) -> ItemRecord:
    """One item as the demo's process would record it."""
    arm = _arm(rng)
    confident = arm == "ai_led" and rng.random() < AUTO_SHARE
    if confident and rng.random() >= (DEMO.audit_rate or 0.05):
        return ItemRecord(at, arm, "auto", "x", completed_at=at)
    right = rng.random() >= (audit_error if confident else 1 - REVIEW_ACCURACY)
    blind = confident or arm == "human_only"
    action = "accept" if right or blind else "correct"
    seconds = handling_seconds("blind" if blind else action, rng)
    return ItemRecord(
        created_at=at,
        arm=arm,
        route="audit" if confident else "review",
        agent_label="x",
        final_label="x" if right else "y",
        review_action="accept" if right else "correct",
        handling_seconds=seconds,
        reviewer_id="aiko" if rng.random() < 0.55 else "ben",
        completed_at=at,
    )


def _week_records(week: DemoWeek, rng: random.Random, *, audit_error: float) -> list[ItemRecord]:
    times = arrival_times(week, ITEMS_PER_WEEK, rng)
    return [_item(at, rng, audit_error=audit_error) for at in times]


def _verdicts(*, error_budget: float, audit_error: float) -> list[Recommendation]:
    """The recommendation at the end of each of the demo's weeks."""
    rng = random.Random(0)
    context = _context(error_budget)
    records: list[ItemRecord] = []
    verdicts = []
    for week in demo_weeks(WEEKS, NOW):
        records += _week_records(week, rng, audit_error=audit_error)
        overall, _ = compute_kpis(records, context)
        evidence = period_evidence(records, overall, context, now=week.end)
        verdicts.append(recommend(evidence, context.policy))
    return verdicts


def test_a_healthy_demo_process_reaches_scale_within_the_demos_weeks() -> None:
    verdicts = _verdicts(error_budget=0.05, audit_error=AUTO_ERROR)
    actions = [found.action for found in verdicts]
    assert "scale" in actions and "stop" not in actions
    first = actions.index("scale")
    assert first >= 1  # never on the first week alone: two weeks are required
    assert verdicts[first].period.weeks == first + 1
    assert all(action == "hold" for action in actions[:first])


def test_at_the_demos_one_percent_budget_the_hold_says_what_would_prove_it() -> None:
    last = _verdicts(error_budget=0.01, audit_error=AUTO_ERROR)[-1]
    assert last.action == "hold"
    needed = {reason.code: reason.params for reason in last.reasons}["audits_needed"]
    assert int(needed["audits"]) > 0 and int(needed["weeks"]) > 2
    assert 0.05 < float(needed["raised_rate"]) <= 0.5
    assert int(needed["raised_weeks"]) < int(needed["weeks"])


def test_a_demo_process_whose_audited_answers_are_wrong_reaches_stop() -> None:
    verdicts = _verdicts(error_budget=0.05, audit_error=0.2)
    actions = [found.action for found in verdicts]
    assert "stop" in actions and "scale" not in actions
    stopped = verdicts[actions.index("stop")]
    assert stopped.reasons[0].code == "budget_broken"
