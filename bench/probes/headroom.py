"""Headroom benchmark: how much of the automation gap is the policy's, and how much the model's.

Replays one shuffled stream exactly like `engine_bench.py stream` (the same agent, reviewer and
retrains) and logs every live decision: its confidence and whether its label was right. Per
window it then compares what the agent auto-completed with a *hindsight oracle*: the largest
share of that window's items which, taken in order of the live confidence, has at most ε wrong,
knowing every true label. No valid policy can beat the oracle with the same model, because it
needs no labels to prove anything; the difference is what finite-sample certification (and the
guards against novel inputs and rare labels, which the oracle ignores) cost.

    .venv/bin/python bench/probes/headroom.py --dataset banking77 --seed 0
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

import _bench_path  # noqa: F401  (bench/ on sys.path, for engine_bench)
import numpy as np
from engine_bench import RESULTS, load

from deshi.engine import Agent, AgentConfig, Decision, Observation
from deshi.engine.agent import RetrainReport
from deshi.sim.backtest import BacktestSettings, run_backtest


@dataclass
class LoggingAgent:
    """The production agent, with every decision kept for the analysis."""

    agent: Agent
    decisions: list[Decision] = field(default_factory=list)

    @property
    def config(self) -> AgentConfig:
        return self.agent.config

    @property
    def due_for_retrain(self) -> bool:
        return self.agent.due_for_retrain

    def decide(self, text: str, *, case_id: str) -> Decision:
        decision = self.agent.decide(text, case_id=case_id)
        self.decisions.append(decision)
        return decision

    def record(self, observation: Observation) -> None:
        self.agent.record(observation)

    def retrain(self) -> RetrainReport:
        return self.agent.retrain()


def oracle_share(confidence: np.ndarray, correct: np.ndarray, epsilon: float) -> int:
    """Most items that, taken by descending confidence, include at most ε wrong."""
    if len(confidence) == 0:
        return 0
    order = np.argsort(-confidence, kind="stable")
    wrong = np.cumsum(~correct[order])
    taken = np.arange(1, len(order) + 1)
    ok = np.flatnonzero(wrong <= epsilon * taken)
    return int(ok[-1] + 1) if len(ok) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="banking77")
    parser.add_argument("--featurizer", default="tfidf")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=int, default=1000)
    args = parser.parse_args()
    dataset = load(args.dataset).shuffled(args.seed)
    settings = BacktestSettings(featurizer=args.featurizer, seed=args.seed)
    logged = LoggingAgent(Agent(settings.agent_config()))
    result = run_backtest(dataset, settings=settings, agent=logged)
    truth = [item.label for item in dataset.items]
    conf = np.array([d.confidence for d in logged.decisions])
    correct = np.array([d.label == t for d, t in zip(logged.decisions, truth, strict=True)])
    auto = np.array([d.route.value == "auto" for d in logged.decisions])
    eps = settings.policy.error_budget
    rows = []
    for start in range(0, len(truth), args.window):
        w = slice(start, start + args.window)
        n = len(conf[w])
        rows.append(
            {
                "start": start,
                "items": n,
                "auto": float(auto[w].mean()),
                "oracle": oracle_share(conf[w], correct[w], eps) / n,
                "accuracy": float(correct[w].mean()),
            }
        )
    total = {
        "automation": result.automation_rate,
        "auto_error": result.auto_error_rate,
        "oracle": sum(r["oracle"] * r["items"] for r in rows) / len(truth),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"headroom-{args.dataset}-{args.featurizer}-seed{args.seed}.json"
    out.write_text(json.dumps({"total": total, "windows": rows}, indent=1))
    print("| items | automation (live) | hindsight oracle | accuracy of the live label |")
    print("|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['start']:,}–{r['start'] + r['items']:,} | {r['auto']:.1%} | {r['oracle']:.1%} "
            f"| {r['accuracy']:.1%} |"
        )
    print(
        f"| **whole stream** | **{total['automation']:.1%}** "
        f"(error {total['auto_error']:.2%}) | **{total['oracle']:.1%}** | |"
    )


if __name__ == "__main__":
    main()
