"""Where a whole replay's memory goes: resident memory before, during and after every retrain.

One `run_backtest` (the code behind `deshi backtest`) on BANKING77, with RSS sampled every 5 ms
from /proc (Linux only). Printed: each retrain's labelled items, RSS before it, its peak and RSS
after it, then the highest RSS seen in each stage of the whole replay. The line per retrain shows
whether the process grows between retrains (memory the allocator keeps) or only during them.

    .venv/bin/python bench/probes/replay_memory.py --featurizer embeddings --seed 0
    .venv/bin/python bench/probes/replay_memory.py --featurizer embeddings --limit 6000   # a prefix
    MALLOC_MMAP_THRESHOLD_=1048576 .venv/bin/python bench/probes/replay_memory.py ...    # glibc
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import threading
import time
from pathlib import Path
from typing import Any

import _bench_path  # noqa: F401  (bench/ on sys.path, for engine_bench)
from engine_bench import load
from retrain_memory import StageMonitor, resident_mib

from deshi.engine import Agent, training
from deshi.engine.agent import RetrainReport
from deshi.engine.featurize import HybridFeaturizer, TfidfFeaturizer
from deshi.sim import backtest
from deshi.sim.backtest import BacktestSettings, run_backtest


class RetrainPeaks:
    """RSS before, at the peak of and after each retrain."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._peak: float | None = None
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            if self._peak is not None:
                self._peak = max(self._peak, resident_mib())
            time.sleep(0.005)

    def wrap(self, monitor: StageMonitor) -> None:
        inner = Agent.retrain

        def retrain(agent: Agent) -> RetrainReport:
            before = self._peak = resident_mib()
            outer, monitor.stage = monitor.stage, "retrain (rest)"
            try:
                report = inner(agent)
            finally:
                monitor.stage = outer
                peak, self._peak = self._peak, None
            row = {
                "labelled": len(agent.memory),
                "items": len(agent.observations),
                "before": round(before),
                "peak": round(max(peak, before)),
                "after": round(resident_mib()),
                "promoted": report.promoted,
                "seconds": round(report.seconds, 1),
            }
            self.rows.append(row)
            print(row, flush=True)
            return report

        Agent.retrain = retrain  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--featurizer", choices=["tfidf", "embeddings"], default="embeddings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="replay only the first N items")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    monitor = StageMonitor()
    retrains = RetrainPeaks()
    retrains.wrap(monitor)
    monitor.around(backtest, "_warm_embeddings", "embed the stream")
    for featurizer in (TfidfFeaturizer, HybridFeaturizer):
        monitor.around(featurizer, "fit", "featurizer fit")
    monitor.around(training._Deciders, "_fit", "fit deciders")
    monitor.around(training, "_out_of_fold_candidates", "out-of-fold scoring")
    for name, stage in [("_compare", "compare"), ("_contest", "contest"), ("_install", "install")]:
        monitor.around(Agent, name, stage)
    monitor.stage = "load"
    dataset = load("banking77").shuffled(args.seed)
    if args.limit:
        dataset = dataclasses.replace(dataset, items=dataset.items[: args.limit])
    monitor.stage = "decide and record"
    settings = BacktestSettings(featurizer=args.featurizer, seed=args.seed)
    result = run_backtest(dataset, settings=settings)
    monitor.stage = "after"
    monitor.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.featurizer}, seed {args.seed}, {result.items:,} items")
    print(f"automation {result.automation_rate:.1%}, auto error {result.auto_error_rate:.2%}")
    for stage, stage_peak in monitor.peaks.items():
        print(f"  {stage:<22} {stage_peak:>7,.0f} MiB")
    print(f"peak RSS: {peak:,.0f} MiB")
    if args.json:
        figures = {"peak_rss_mib": peak, "stages": monitor.peaks, "retrains": retrains.rows}
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
