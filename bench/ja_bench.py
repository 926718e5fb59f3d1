"""Japanese benchmark (issue #26) on the MLIT vehicle complaints in ../shared/datasets.

    python bench/ja_bench.py warm --featurizer tfidf --orders 0-19 [--epsilon 0.02]
    python bench/ja_bench.py warm --featurizer multilingual --history-limit 5000 --live-limit 500
    python bench/ja_bench.py cold --featurizer tfidf --seeds 0-4 [--limit N]

`warm`: train.csv (37,664 items) is taken in as reviewed history and trained on once
(`deshi backtest dev.csv --history train.csv`); then dev.csv (4,708 items) is replayed as the
live stream in each shuffled order, each from a copy of that one warm agent (the orders differ
only in the live order and the audit draws, so the history's retrain is done once). `cold`:
train + dev shuffled as one stream from an empty agent. Everything runs on one thread.
Figures go to bench/results/mlit-<mode>-<featurizer>[-<sizes>][-eps<ε>]-<n>.json; markdown rows
are printed, and for `warm` the history's certification, the peak memory after taking it in, and
decisions/s in batches of 1,000 with their accuracy on the live split.
multilingual-e5 vectors of the data set are cached in /tmp (`--e5-cache`), computed once.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _support import machine
from threadpoolctl import threadpool_limits

from deshi.engine import Agent, AgentConfig
from deshi.engine.featurize_multilingual import E5Featurizer
from deshi.engine.types import FEATURIZER_NAMES, Decision
from deshi.sim.backtest import BacktestSettings, run_backtest, take_in_history
from deshi.sim.dataset import Dataset, load_dataset

MLIT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ja_mlit_vehicle_complaints"
RESULTS = Path(__file__).parent / "results"
E5_CACHE = Path("/tmp/deshi-mlit-e5")


def _split(name: str) -> Dataset:
    return load_dataset(MLIT / f"{name}.csv", text_col="text", label_col="label")


def _e5_vectors(texts: list[str], cache: Path) -> None:
    """Put every text's e5 vector in the featurizer's cache: from `cache` or computed once."""
    vectors, names = cache.with_suffix(".npy"), cache.with_suffix(".json")
    if vectors.exists() and names.exists():
        known = json.loads(names.read_text(encoding="utf-8"))
        E5Featurizer.keep(known, np.load(vectors))
    missing = list(dict.fromkeys(t for t in texts if t not in E5Featurizer._cache))
    if missing:
        E5Featurizer().transform(missing)
        cached = list(E5Featurizer._cache)
        np.save(vectors, np.vstack([E5Featurizer._cache[t] for t in cached]))
        names.write_text(json.dumps(cached, ensure_ascii=False), encoding="utf-8")


class _Counting:
    """Wraps an agent's `decide` to count the route reasons of the live decisions."""

    def __init__(self, agent: Agent) -> None:
        self.agent, self.reasons = agent, Counter[str]()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.agent, name)

    def decide(self, text: str, *, case_id: str) -> Decision:
        decision = self.agent.decide(text, case_id=case_id)
        self.reasons[decision.reason_code.value] += 1
        return decision


def warm(
    featurizer: str, orders: list[int], epsilon: float, limits: tuple[int | None, int | None]
) -> list[dict[str, Any]]:
    """Train once on the history, then replay the live split in each order (`limits`: the
    first N history and live items only, for a quick comparison of featurizers)."""
    history = _split("train").renamed("history-").head(limits[0])
    live = _split("dev").head(limits[1])
    if featurizer == "multilingual":
        _e5_vectors([i.text for i in (*history.items, *live.items)], E5_CACHE)
    config = AgentConfig(featurizer=featurizer, seed=0, training_threads=1)
    config = replace(config, policy=replace(config.policy, error_budget=epsilon))
    agent = Agent(config)
    stats = take_in_history(agent, history)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"history: {stats.to_dict()}; peak RSS so far {peak:.0f} MiB", flush=True)
    print(f"batch decisions on the live split: {_speed(agent, live)}", flush=True)
    results = []
    for order in orders:
        copied = copy.deepcopy(agent)
        copied.config = replace(config, seed=order)
        counting = _Counting(copied)
        settings = BacktestSettings(policy=config.policy, featurizer=featurizer, seed=order)
        result = run_backtest(live.shuffled(order), settings=settings, agent=counting)  # type: ignore[arg-type]
        figures = result.to_dict()
        del figures["windows"]
        figures.update(
            mode="warm",
            order=order,
            history=stats.to_dict(),
            reasons=dict(counting.reasons),
            promise_kept=result.auto_error_rate <= epsilon,
            peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
        size = "" if limits == (None, None) else f"-{len(history.items)}-{len(live.items)}"
        budget = "" if epsilon == 0.01 else f"-eps{epsilon:g}"
        _save(figures, f"mlit-warm-{featurizer}{size}{budget}-{order}.json")
        results.append(figures)
        print(_row(figures), flush=True)
        del copied, counting
    return results


def _speed(agent: Agent, live: Dataset) -> dict[str, float]:
    """Decisions per second in batches of 1,000 (one core), and the accuracy of those decisions,
    by the warm agent before any live item is recorded."""
    texts = [item.text for item in live.items]
    started = time.perf_counter()
    decisions = [
        d for i in range(0, len(texts), 1000) for d in agent.decide_many(texts[i : i + 1000])
    ]
    seconds = time.perf_counter() - started
    right = sum(d.label == item.label for d, item in zip(decisions, live.items, strict=True))
    return {"decisions_per_s": len(texts) / seconds, "accuracy": right / len(texts)}


def cold(featurizer: str, seeds: list[int], limit: int | None) -> list[dict[str, Any]]:
    """Train + dev as one shuffled stream from an empty agent."""
    train, dev = _split("train"), _split("dev").renamed("dev-")
    stream = replace(train, items=(*train.items, *dev.items), source="mlit train+dev")
    if featurizer == "multilingual":
        _e5_vectors([i.text for i in stream.items], E5_CACHE)
    results = []
    for seed in seeds:
        agent = Agent(AgentConfig(featurizer=featurizer, seed=seed, training_threads=1))
        settings = BacktestSettings(featurizer=featurizer, seed=seed, window=1000)
        result = run_backtest(stream.shuffled(seed).head(limit), settings=settings, agent=agent)
        figures = result.to_dict()
        figures.update(
            mode="cold",
            promise_kept=result.auto_error_rate <= settings.policy.error_budget,
            peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
        _save(figures, f"mlit-cold-{featurizer}-{seed}.json")
        results.append(figures)
        print(_row(figures), flush=True)
    return results


def _save(figures: dict[str, Any], name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(figures, indent=1, ensure_ascii=False))


def _row(f: dict[str, Any]) -> str:
    n = f.get("order", f.get("seed"))
    return (
        f"| {f['mode']} | {f['featurizer']} | {n} | {f['items']} | {f['automation_rate']:.1%} "
        f"| {f['auto_errors']} | {f['auto_error_rate']:.2%} | {f['promise_kept']} "
        f"| {f['first_auto_index']} | {f['accuracy']:.1%} | {f['throughput_items_per_s']:.0f} "
        f"| {f['peak_rss_mib']:.0f} |"
    )


def _summary(results: list[dict[str, Any]]) -> str:
    auto = [r["automation_rate"] for r in results]
    kept = sum(r["promise_kept"] for r in results)
    return (
        f"{len(results)} runs: automation median {statistics.median(auto):.1%} "
        f"({min(auto):.1%}–{max(auto):.1%}), promise kept {kept}/{len(results)}, "
        f"worst error {max(r['auto_error_rate'] for r in results):.2%}"
    )


def _numbers(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        out.extend(range(int(low), int(high or low) + 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    w = sub.add_parser("warm")
    w.add_argument("--featurizer", choices=FEATURIZER_NAMES, default="tfidf")
    w.add_argument("--orders", default="0-19")
    w.add_argument("--epsilon", type=float, default=0.01)
    w.add_argument("--history-limit", type=int, default=None)
    w.add_argument("--live-limit", type=int, default=None)
    c = sub.add_parser("cold")
    c.add_argument("--featurizer", choices=FEATURIZER_NAMES, default="tfidf")
    c.add_argument("--seeds", default="0-4")
    c.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(machine(), flush=True)
    print(
        "| mode | featurizer | order/seed | items | automation | auto errors | error "
        "| promise kept | first auto | accuracy | items/s | peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    started = time.process_time()
    with threadpool_limits(limits=1):
        if args.mode == "warm":
            limits = (args.history_limit, args.live_limit)
            results = warm(args.featurizer, _numbers(args.orders), args.epsilon, limits)
        else:
            results = cold(args.featurizer, _numbers(args.seeds), args.limit)
    print(_summary(results))
    print(f"CPU time {time.process_time() - started:.0f} s")


if __name__ == "__main__":
    main()
