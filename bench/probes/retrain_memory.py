"""Where a retrain's memory goes: peak RSS by stage of one retrain on every BANKING77 item.

Every one of the 13,083 items counts as reviewed (more than a replay ever trains on, so this is
the worst case for fitting), or with `--labelled N` the first N do and the rest count as
auto-completed (unlabelled, as late in a replay: scored fold by fold for the calibration).
With `--featurizer embeddings` the sentence vectors are computed up front, as a replay does.
RSS is sampled every 5 ms from /proc (Linux only) and the maximum of each stage is
printed, with the process's peak.

    .venv/bin/python bench/probes/retrain_memory.py --featurizer embeddings
    .venv/bin/python bench/probes/retrain_memory.py --featurizer tfidf --threads 1
    .venv/bin/python bench/probes/retrain_memory.py --featurizer embeddings --labelled 7200
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from deshi.engine import training
from deshi.engine.featurize import EmbeddingFeaturizer, make_featurizer
from deshi.sim.dataset import load_bundled

PAGE_MIB = resource.getpagesize() / 2**20


def resident_mib() -> float:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_MIB


class StageMonitor:
    """The highest RSS seen while each named stage was running."""

    def __init__(self) -> None:
        self.stage = "start"
        self.peaks: dict[str, float] = {}
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while self._running:
            rss = resident_mib()
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), rss)
            time.sleep(0.005)

    def around(self, owner: Any, name: str, stage: str) -> None:
        """Count the time spent in `owner.name` as `stage`."""
        inner: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(inner)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            outer, self.stage = self.stage, stage
            try:
                return inner(*args, **kwargs)
            finally:
                self.stage = outer

        setattr(owner, name, wrapped)

    def stop(self) -> None:
        time.sleep(0.05)
        self._running = False
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--featurizer", choices=["tfidf", "embeddings"], default="embeddings")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--labelled", type=int, help="items that count as reviewed (default: all)")
    args = parser.parse_args()
    monitor = StageMonitor()
    items = load_bundled("banking77").shuffled(0).items
    texts = [item.text for item in items]
    if args.featurizer == "embeddings":
        monitor.stage = "embed the stream"
        EmbeddingFeaturizer().warm(texts)
    monitor.stage = "featurize"
    monitor.around(training._Deciders, "_fit", "fit deciders")
    monitor.around(training, "_out_of_fold_candidates", "out-of-fold scoring")
    n = len(texts) if args.labelled is None else args.labelled
    data = training.TrainingSet(
        [str(i) for i in range(n)],
        texts[:n],
        np.array([item.label for item in items[:n]], dtype=object),
        texts[n:],
    )
    started = time.perf_counter()
    _, vectors = training.train_model(
        data,
        make_featurizer(args.featurizer),
        version=1,
        cutoff=len(texts),
        epsilon=0.01,
        delta=0.05,
        seed=0,
        parallelism=training.Parallelism(threads=args.threads),
    )
    seconds = time.perf_counter() - started
    monitor.stage = "after"
    monitor.stop()
    one_by_one = args.threads == 1 or vectors.nnz > training.Parallelism().max_values
    fitting = "one at a time" if one_by_one else f"{args.threads} at a time"
    print(f"{args.featurizer}, {n:,} labelled and {len(texts) - n:,} unlabelled items")
    print(f"deciders fitted {fitting}")
    print(f"stored values: {vectors.nnz:,} ({vectors.nnz / n:.0f} per labelled item)")
    print(f"retrain: {seconds:.1f} s")
    for stage, peak in monitor.peaks.items():
        print(f"  {stage:<22} {peak:>7,.0f} MiB")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
