"""Engine benchmark: the backtest stream over many seeds, plus speed and memory figures.

    python bench/engine_bench.py stream --dataset banking77 --seeds 0-19 --jobs 2
    python bench/engine_bench.py stream --dataset cuad --seeds 0-4
    python bench/engine_bench.py speed [--dataset cuad] [--featurizer embeddings]
    python bench/engine_bench.py summary --dataset banking77   # table over all stored seeds

Each stream run is one `run_backtest` (the code behind `deshi backtest`) in its own process; its
figures and peak memory go to bench/results/<dataset>-<featurizer>-seed<N>.json, and a summary
table in markdown is printed (medians over seeds, and how many seeds kept the promise).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _support import machine
from threadpoolctl import threadpool_limits

from deshi.engine import Agent, AgentConfig, Observation, Route
from deshi.engine.featurize import EmbeddingFeaturizer, make_featurizer
from deshi.sim.backtest import BacktestSettings, run_backtest
from deshi.sim.dataset import Dataset, LabelledItem, load_bundled, load_dataset

RESULTS = Path(__file__).parent / "results"
BANKING77_PROBE = "My new card has still not been delivered to me"  # no near-twin in BANKING77
EMBEDDINGS = "embeddings"
MINILM = "minilm"  # MiniLM sentence embeddings alone (bench only: see _embeddings_alone)
FEATURIZERS = ["tfidf", EMBEDDINGS, MINILM]
CUAD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cuad_clauses" / "clauses.csv"


def load(name: str) -> Dataset:
    """BANKING77 (bundled, train+test) or CUAD clauses (non-metadata rows, primary label)."""
    if name == "banking77":
        return load_bundled("banking77")
    if name == "cuad":
        with CUAD.open(encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if r["is_metadata_only"] == "0"]
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows({"text": r["text"], "label": r["primary_label"]} for r in rows)
        return load_dataset(Path(f.name), text_col="text", label_col="label")
    raise SystemExit(f"unknown dataset {name!r}")


def run_one(dataset_name: str, featurizer: str, seed: int) -> dict[str, object]:
    """One shuffled stream; returns the backtest figures plus peak memory."""
    dataset = load(dataset_name).shuffled(seed)
    if featurizer == MINILM:
        _embeddings_alone()
    settings = BacktestSettings(
        featurizer=EMBEDDINGS if featurizer == MINILM else featurizer, seed=seed
    )
    result = run_backtest(dataset, settings=settings).to_dict()
    result["featurizer"] = featurizer
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["dataset"] = dataset_name
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{dataset_name}-{featurizer}-seed{seed}.json"
    out.write_text(json.dumps(result, indent=1))
    return result


def _embeddings_alone() -> None:
    """Make this (worker) process's agents use MiniLM embeddings without the n-grams that the
    engine's `embeddings` featurizer pairs them with: the comparison behind that pairing."""
    from deshi.engine import agent

    agent.make_featurizer = lambda name: (
        EmbeddingFeaturizer() if name == EMBEDDINGS else make_featurizer(name)
    )


def summarise(results: list[dict[str, object]], epsilon: float = 0.01) -> str:
    def med(key: str) -> float:
        return statistics.median(float(r[key]) for r in results)  # type: ignore[arg-type]

    kept = sum(float(r["auto_error_rate"]) <= epsilon for r in results)  # type: ignore[arg-type]
    return (
        "| seeds | items | automation (median) | auto error (median) | worst auto error "
        "| promise kept | items/s | peak RSS MiB |\n|---|---|---|---|---|---|---|---|\n"
        f"| {len(results)} | {results[0]['items']} | {med('automation_rate'):.1%} "
        f"| {med('auto_error_rate'):.2%} "
        f"| {max(float(r['auto_error_rate']) for r in results):.2%} "  # type: ignore[arg-type]
        f"| {kept}/{len(results)} | {med('throughput_items_per_s'):.0f} "
        f"| {max(float(r['peak_rss_mib']) for r in results):.0f} |"  # type: ignore[arg-type]
    )


def parse_seeds(spec: str) -> list[int]:
    """Seeds from "0-19", "2,18" or "0-4,10"."""
    seeds: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def stream(args: argparse.Namespace) -> None:
    seeds = parse_seeds(args.seeds)
    # A fresh process per seed, so each seed's peak memory is its own (ru_maxrss never falls).
    with ProcessPoolExecutor(max_workers=args.jobs, max_tasks_per_child=1) as pool:
        futures = [pool.submit(run_one, args.dataset, args.featurizer, s) for s in seeds]
        results = []
        for seed, future in zip(seeds, futures, strict=True):
            r = future.result()
            results.append(r)
            print(
                f"seed {seed}: automation {float(r['automation_rate']):.1%}, "  # type: ignore[arg-type]
                f"auto error {float(r['auto_error_rate']):.2%}",  # type: ignore[arg-type]
                flush=True,
            )
    print(machine())
    print(summarise(results))


def summary(args: argparse.Namespace) -> None:
    """The table over every stored seed of a dataset and featurizer (runs may be split)."""
    paths = sorted(RESULTS.glob(f"{args.dataset}-{args.featurizer}-seed*.json"))
    if not paths:
        raise SystemExit(f"no results for {args.dataset}/{args.featurizer} in {RESULTS}")
    results = [json.loads(path.read_text()) for path in paths]
    for path, r in zip(paths, results, strict=True):
        print(
            f"{path.stem}: automation {r['automation_rate']:.1%}, "
            f"auto error {r['auto_error_rate']:.2%} (upper {r['auto_error_upper']:.2%}), "
            f"peak {r['peak_rss_mib']:.0f} MiB"
        )
    print(summarise(results))


def speed(args: argparse.Namespace) -> None:
    """Batch decisions per second on one core, correction latency, retrain time, peak memory."""
    if args.featurizer == EMBEDDINGS:
        import torch  # the embeddings extra's

        torch.set_num_threads(1)  # PyTorch keeps its own thread pool
    with threadpool_limits(limits=1):  # BLAS on one thread: the target is per core
        _speed(args)


def _speed(args: argparse.Namespace) -> None:
    items = load(args.dataset).shuffled(0).items
    probe = BANKING77_PROBE
    if args.dataset != "banking77":  # a real clause the memory has not seen, held out
        probe, items = items[-1].text, items[:-1]
    agent = Agent(AgentConfig(featurizer=args.featurizer))
    record_reviewed(agent, items)
    started = time.perf_counter()
    agent.retrain()
    retrain_s = time.perf_counter() - started
    texts = [item.text for item in items[:5000]]
    rates = []
    for _ in range(5):
        EmbeddingFeaturizer.forget()  # new texts are embedded on arrival: time that too
        started = time.perf_counter()
        for start in range(0, len(texts), 1000):
            chunk = texts[start : start + 1000]
            agent.decide_many(chunk, [f"q{start + j}" for j in range(len(chunk))])
        rates.append(len(texts) / (time.perf_counter() - started))
    latency = correction_latency(agent, probe)
    print(machine())
    print(
        "| data | featurizer | labelled | retrain s | decisions/s (batch 1000, median of 5) "
        "| correction → next near-duplicate ms | peak RSS MiB |\n|---|---|---|---|---|---|---|"
    )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"| {args.dataset} | {args.featurizer} | {len(items)} | {retrain_s:.1f} "
        f"| {statistics.median(rates):.0f} "
        f"| {latency * 1000:.1f} | {peak_mib:.0f} |"
    )


def record_reviewed(agent: Agent, items: Sequence[LabelledItem]) -> None:
    """Record every item as reviewed: the largest memory and training set the stream can give."""
    for i, item in enumerate(items):
        agent.record(
            Observation(
                case_id=f"c{i}",
                text=item.text,
                route=Route.REVIEW,
                label=item.label,
                audit_rate=0.05,
            )
        )


def correction_latency(agent: Agent, text: str) -> float:
    """Seconds from recording a correction to a near-duplicate's decision reflecting it.

    The reviewer corrects the agent to its own runner-up label; the near-duplicate is the same
    text in capitals with an exclamation mark (case and punctuation do not change the
    features, so cosine ≥ 0.95: the memory's duplicate rule). A text that already has
    near-twins labelled otherwise is, rightly, not overridden by one correction either.
    """
    before = agent.decide(text, case_id="lat-0")
    corrected = before.alternatives[1].label if len(before.alternatives) > 1 else "age_limit"
    started = time.perf_counter()
    agent.record(
        Observation.from_decision(
            case_id="lat-0", text=text, decision=before, label=corrected, audit_rate=0.05
        )
    )
    after = agent.decide(text.upper() + "!", case_id="lat-1")
    elapsed = time.perf_counter() - started
    if after.label != corrected:
        raise SystemExit("the correction did not reach the near-duplicate")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stream")
    s.add_argument("--dataset", choices=["banking77", "cuad"], default="banking77")
    s.add_argument("--featurizer", choices=FEATURIZERS, default="tfidf")
    s.add_argument("--seeds", default="0-19", help='a range and/or list: "0-19", "2,18"')
    s.add_argument("--jobs", type=int, default=2)
    s.set_defaults(func=stream)
    m = sub.add_parser("summary")
    m.add_argument("--dataset", choices=["banking77", "cuad"], default="banking77")
    m.add_argument("--featurizer", choices=FEATURIZERS, default="tfidf")
    m.set_defaults(func=summary)
    p = sub.add_parser("speed")
    p.add_argument("--dataset", choices=["banking77", "cuad"], default="banking77")
    p.add_argument("--featurizer", choices=["tfidf", "embeddings"], default="tfidf")
    p.set_defaults(func=speed)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
