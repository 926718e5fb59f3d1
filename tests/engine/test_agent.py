"""Behaviour of the agent: memory, champion/challenger, routing rules, restore and rollback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from deshi.engine import Agent, AgentConfig, Case, Decision, Observation, Route, RouteReason
from deshi.engine.agent import RESIDENT_VERSIONS
from deshi.engine.policy import AuditMonitor, MonitorState
from deshi.engine.training import train_model
from deshi.engine.types import Policy

LABELS = ("card_arrival", "exchange_rate", "lost_or_stolen_card", "top_up_limits", "age_limit")


def teach(agent: Agent, rows: Sequence[tuple[str, str]], start: int = 0) -> None:
    """Decide each row and answer it as a reviewer would (the true label)."""
    for i, (text, label) in enumerate(rows, start=start):
        decision = agent.decide(text, case_id=f"c{i}")
        agent.record(
            Observation.from_decision(
                case_id=f"c{i}", text=text, decision=decision, label=label, audit_rate=0.05
            )
        )


def subset(rows: list[tuple[str, str]], labels: Sequence[str], n: int) -> list[tuple[str, str]]:
    return [r for r in rows if r[1] in labels][:n]


def test_first_decision_without_any_label_is_a_cold_start_review() -> None:
    decision = Agent(AgentConfig()).decide("Where is my card?", case_id="x")
    assert decision.label is None
    assert decision.route is Route.REVIEW
    assert decision.reason_code is RouteReason.COLD_START


def test_correction_changes_the_next_near_duplicate_decision_before_any_retrain(
    banking_rows: list[tuple[str, str]],
) -> None:
    agent = Agent(AgentConfig())
    teach(agent, subset(banking_rows, LABELS, 150))
    agent.retrain()
    text = "My new card has still not been delivered to me"
    before = agent.decide(text, case_id="q1")
    corrected = next(label for label in LABELS if label != before.label)
    version = agent.champion.version if agent.champion else 0
    agent.record(
        Observation.from_decision(
            case_id="q1", text=text, decision=before, label=corrected, audit_rate=0.05
        )
    )
    after = agent.decide(text + "!", case_id="q2")
    assert after.label == corrected
    assert after.evidence[0].case_id == "q1" and after.evidence[0].label == corrected
    assert after.model_version == version  # no retrain happened in between


def test_every_decision_carries_alternatives_evidence_route_and_reason(
    banking_rows: list[tuple[str, str]],
) -> None:
    agent = Agent(AgentConfig())
    teach(agent, subset(banking_rows, LABELS, 120))
    agent.retrain()
    decision = agent.decide("I lost my card yesterday", case_id="d")
    assert decision.label == decision.alternatives[0].label
    assert 0.0 <= decision.confidence <= 1.0
    assert sum(a.probability for a in decision.alternatives) <= 1.0 + 1e-6
    assert decision.evidence and all(isinstance(c, Case) for c in decision.evidence)
    sims = [c.similarity for c in decision.evidence]
    assert sims == sorted(sims, reverse=True)
    assert decision.reason_code in RouteReason


def test_challenger_trained_on_more_data_replaces_the_champion(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = subset(banking_rows, LABELS, 400)
    agent = Agent(AgentConfig())
    teach(agent, rows[:40])
    first = agent.retrain()
    teach(agent, rows[40:], start=40)
    report = agent.retrain()
    assert report.promoted, report
    assert report.challenger_correct > report.champion_correct
    assert agent.champion is not None and agent.champion.version == report.version > first.version


def trained_agent(banking_rows: list[tuple[str, str]]) -> tuple[Agent, list[tuple[str, str]]]:
    """An agent with a champion trained on 300 reviewed items, and those items."""
    rows = subset(banking_rows, LABELS, 300)
    agent = Agent(AgentConfig())
    teach(agent, rows)
    agent.retrain()
    assert agent.champion is not None
    return agent, rows


def test_a_threshold_reason_names_the_confidence_and_threshold_it_compared(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = subset(banking_rows, LABELS, 300)
    agent = Agent(AgentConfig(policy=Policy(error_budget=0.2)))
    teach(agent, rows)
    agent.retrain()
    assert agent.threshold is not None
    texts = [text for text, _ in banking_rows[:300]]  # most of other labels: below the threshold
    decisions = agent.decide_many(texts, [f"p{i}" for i in range(len(texts))])
    compared = (RouteReason.AUTO, RouteReason.BELOW_THRESHOLD)
    named = [d for d in decisions if d.reason_code in compared]
    assert {d.reason_code for d in named} == set(compared)
    for d in named:
        assert d.reason_params == {"confidence": d.confidence, "threshold": agent.threshold}


def test_challenger_that_is_not_better_does_not_replace_the_champion(
    banking_rows: list[tuple[str, str]],
) -> None:
    agent, rows = trained_agent(banking_rows)
    champion = agent.champion
    assert champion is not None
    teach(agent, rows[:120], start=1000)  # the same items again: nothing new to be better at
    report = agent.retrain()
    assert report.holdout >= 10
    assert report.challenger_correct == report.champion_correct
    assert not report.promoted
    assert agent.champion is not None and agent.champion.version == champion.version


def test_recalibration_counts_each_live_item_once(
    banking_rows: list[tuple[str, str]],
) -> None:
    agent, rows = trained_agent(banking_rows)
    champion = agent.champion
    assert champion is not None and champion.calibration_data is not None
    trained = len(champion.calibration_data.labelled_scores)
    for round_, start in enumerate((1000, 2000, 3000), start=1):
        teach(agent, rows[:120], start=start)  # nothing new: the champion stays, recalibrated
        report = agent.retrain()
        assert not report.promoted
        current = agent.champion
        assert current is not None and current.calibration_data is not None
        # Every live item once: before, each recalibration re-added all earlier live items.
        assert len(current.calibration_data.labelled_scores) == trained + 120 * round_


class RiggableTrainer:
    """`train_model`, until `rig` makes every new challenger's calibration evidence all right
    (or all wrong)."""

    def __init__(self) -> None:
        self.rigged: tuple[bool, float] | None = None  # (right, epsilon)

    def rig(self, *, right: bool, epsilon: float) -> None:
        self.rigged = (right, epsilon)

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        model, vectors = train_model(*args, **kwargs)
        if self.rigged is None:
            return model, vectors
        right, epsilon = self.rigged
        data = model.calibration_data
        correct = np.full_like(data.labelled_correct, right)
        data = replace(data, labelled_correct=correct)
        calibration = data.calibrate(epsilon=epsilon, delta=kwargs["delta"])
        return replace(model, calibration_data=data, calibration=calibration), vectors


@pytest.mark.parametrize("certifies", [False, True])
def test_more_accurate_challenger_must_also_certify_as_much_as_a_certified_champion(
    banking_rows: list[tuple[str, str]], certifies: bool
) -> None:
    rows = subset(banking_rows, LABELS, 400)
    trainer = RiggableTrainer()
    agent = Agent(AgentConfig(policy=Policy(error_budget=0.2)), train=trainer)
    teach(agent, rows[:60])
    agent.retrain()
    champion = agent.champion
    assert champion is not None and champion.threshold is not None
    trainer.rig(right=certifies, epsilon=0.2)
    teach(agent, rows[60:], start=60)
    report = agent.retrain()
    assert report.challenger_correct > report.champion_correct  # more accurate, and ...
    assert report.contested and report.promoted is certifies  # ... certification decides
    deployed = agent.champion
    assert deployed is not None and deployed.calibration is not None
    assert deployed.version == (report.version if certifies else champion.version)
    assert deployed.threshold is not None
    assert deployed.calibration.delta == pytest.approx(0.025)  # two tests share δ = 0.05


def test_challenger_against_an_uncertified_champion_is_judged_on_accuracy_alone(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = subset(banking_rows, LABELS, 400)
    agent = Agent(AgentConfig())
    teach(agent, rows[:40])
    agent.retrain()
    assert agent.champion is not None and agent.champion.threshold is None
    teach(agent, rows[40:], start=40)
    report = agent.retrain()
    assert report.promoted and not report.contested
    assert agent.champion is not None and agent.champion.calibration is not None
    assert agent.champion.calibration.delta == pytest.approx(0.05)


def test_rollback_reinstates_an_earlier_version(banking_rows: list[tuple[str, str]]) -> None:
    rows = subset(banking_rows, LABELS, 300)
    agent = Agent(AgentConfig())
    teach(agent, rows[:100])
    old = agent.retrain()
    teach(agent, rows[100:], start=100)
    agent.retrain()
    agent.rollback(old.version)
    assert agent.champion is not None and agent.champion.version == old.version
    assert agent.decide("where is my card", case_id="r").model_version == old.version


def test_agent_keeps_only_the_champion_and_the_newest_other_version_in_memory(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = subset(banking_rows, LABELS, 200)
    agent = Agent(AgentConfig())
    teach(agent, rows[:80])
    for n in (80, 120, 160, 200):
        teach(agent, rows[n - 40 : n], start=n)
        agent.retrain()
    assert agent.champion is not None
    held = {v.version for v in agent.versions}
    last = agent.versions[-1].version  # versions are numbered 1, 2, … in training order
    assert last >= 4
    assert RESIDENT_VERSIONS == 1
    newest_other = max(set(range(1, last + 1)) - {agent.champion.version})
    assert held == {newest_other, agent.champion.version}
    dropped = min(set(range(1, last + 1)) - held)
    with pytest.raises(KeyError, match="not in memory"):
        agent.rollback(dropped)


def _champion_and_a_newer_version(rows: list[tuple[str, str]]) -> Agent:
    """An agent holding two versions, the newer one not the champion (rolled back if need be)."""
    agent = Agent(AgentConfig())
    teach(agent, rows[:80])
    agent.retrain()
    teach(agent, rows[80:140], start=80)
    agent.retrain()
    older, newer = (v.version for v in agent.versions)
    assert agent.champion is not None
    if agent.champion.version == newer:
        agent.rollback(older)
    return agent


def test_a_retrain_holds_only_the_champion_beside_the_challenger_it_trains(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = subset(banking_rows, LABELS, 200)
    agent = _champion_and_a_newer_version(rows)
    assert agent.champion is not None
    champion, newest = agent.champion.version, agent.versions[-1].version
    held_while_training: list[list[int]] = []
    train = agent.train

    def watching(*args: Any, **kwargs: Any) -> Any:
        held_while_training.append([v.version for v in agent.versions])
        return train(*args, **kwargs)

    agent.train = watching
    teach(agent, rows[140:], start=140)
    report = agent.retrain()
    assert held_while_training == [[champion]]
    assert report.version == newest + 1  # numbered after the version it dropped


def test_a_failed_retrain_does_not_reuse_a_dropped_versions_number(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = subset(banking_rows, LABELS, 200)
    agent = _champion_and_a_newer_version(rows)
    newest = agent.versions[-1].version
    train = agent.train

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("out of memory")

    agent.train = failing
    with pytest.raises(RuntimeError):
        agent.retrain()
    assert [v.version for v in agent.versions] != [newest]  # the newer one was dropped
    agent.train = train
    assert agent.retrain().version == newest + 1


def test_sensitive_labels_and_rules_are_always_reviewed(
    banking_rows: list[tuple[str, str]],
) -> None:
    agent = Agent(AgentConfig(sensitive_labels=frozenset({"lost_or_stolen_card"})))
    teach(agent, subset(banking_rows, LABELS, 150))
    agent.retrain()
    stolen = agent.decide("Someone stole my card, what do I do?", case_id="s")
    assert stolen.label == "lost_or_stolen_card"
    assert stolen.route is Route.REVIEW and stolen.reason_code is RouteReason.SENSITIVE
    assert stolen.reason_params == {"label": "lost_or_stolen_card"}
    ruled = agent.decide("What is the exchange rate?", case_id="t", rule="VIP customer")
    assert ruled.route is Route.REVIEW and ruled.reason_code is RouteReason.RULE
    assert ruled.reason_params == {"rule": "VIP customer"}


def test_restore_rebuilds_memory_and_champion_from_observations(
    banking_rows: list[tuple[str, str]],
) -> None:
    agent = Agent(AgentConfig())
    teach(agent, subset(banking_rows, LABELS, 120))
    agent.retrain()
    assert agent.champion is not None
    clone = Agent.restore(
        agent.config,
        agent.observations,
        versions=agent.versions,
        champion_version=agent.champion.version,
    )
    text = "How old do I need to be to open an account?"
    original, restored = agent.decide(text, case_id="z"), clone.decide(text, case_id="z")
    assert restored.label == original.label
    assert restored.evidence == original.evidence
    assert len(clone.memory) == len(agent.memory)


def decide_all(agent: Agent, texts: Sequence[str]) -> list[Decision]:
    return agent.decide_many(texts, [f"b{i}" for i in range(len(texts))])


def test_batch_and_single_decisions_agree(banking_rows: list[tuple[str, str]]) -> None:
    agent = Agent(AgentConfig())
    teach(agent, subset(banking_rows, LABELS, 150))
    agent.retrain()
    texts = [t for t, _ in banking_rows[2000:2010]]
    batch = decide_all(agent, texts)
    single = [agent.decide(t, case_id=f"b{i}") for i, t in enumerate(texts)]
    assert [d.label for d in batch] == [d.label for d in single]
    assert [d.route for d in batch] == [d.route for d in single]


def test_at_risk_with_nothing_certified_at_half_budget_holds_items_back_and_keeps_evidence(
    banking_rows: list[tuple[str, str]],
) -> None:
    """Without this, no item would be would-be-auto, no audit drawn, and the monitor stuck."""
    rows = subset(banking_rows, LABELS, 300)
    agent = Agent(AgentConfig(policy=Policy(error_budget=0.2)))
    teach(agent, rows)
    agent.retrain()
    champion = agent.champion
    assert champion is not None and champion.threshold is not None
    at_risk = (AuditMonitor(40, errors) for errors in range(41))
    agent.monitor = next(m for m in at_risk if m.state(0.2, 0.05) is MonitorState.AT_RISK)
    agent._tightened = replace(champion, calibration=None)  # nothing passes at ε/2
    assert agent.holding_back and agent.threshold == champion.threshold
    decisions = agent.decide_many([text for text, _ in rows], [f"h{i}" for i in range(len(rows))])
    pairs = zip(decisions, rows, strict=True)
    held = [(d, row) for d, row in pairs if d.reason_code is RouteReason.SUSPENDED]
    assert held and not any(d.route is Route.AUTO for d in decisions)
    decision, (text, label) = held[0]
    before = agent.monitor.audited
    agent.record(
        Observation.from_decision(
            case_id="h-rec", text=text, decision=decision, label=label, audit_rate=0.05
        )
    )
    assert agent.monitor.audited == before + 1
