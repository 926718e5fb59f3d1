"""API benchmark: batch ingest+decide throughput and single-item latency over real HTTP.

Starts `deshi serve` on a temporary SQLite file (and on PostgreSQL when --postgres URL is given,
in a throwaway schema), warms the agent up with reviewed BANKING77 items and a retrain, then
measures: items/s for batches of 500, and p50/p95 latency of one-item POSTs. Bounded counts,
127.0.0.1 only. Prints one markdown table row per backend for docs/benchmarks.md.

    .venv/bin/python bench/api_bench.py [--postgres postgresql+psycopg://…] [--batches 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from _support import (
    banking77_rows,
    free_port,
    machine,
    postgres_schema,
    prepare_process,
    server,
    warm_up,
)

BATCH = 500


def run(backend: str, url: str, args: argparse.Namespace) -> str:
    data = banking77_rows(shuffle_seed=0)  # warm up on all labels, not the file's first three
    labels = sorted({label for _, label in data})
    token, process_id = prepare_process(url, labels, name="bench")
    with (
        server(url, free_port()) as base,
        httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as client,
    ):
        warm_up(client, url, process_id, data[: args.warmup])
        pool = data[args.warmup :]
        started = time.perf_counter()
        for b in range(args.batches):
            chunk = pool[b * BATCH : (b + 1) * BATCH]
            body = {
                "items": [{"external_id": f"b{b}-{i}", "text": t} for i, (t, _) in enumerate(chunk)]
            }
            client.post(f"/processes/{process_id}/items:batch", json=body).raise_for_status()
        throughput = args.batches * BATCH / (time.perf_counter() - started)
        rest = pool[args.batches * BATCH :]
        latencies = []
        for i in range(args.single):
            t0 = time.perf_counter()
            body = {"external_id": f"s{i}", "text": rest[i % len(rest)][0]}
            client.post(f"/processes/{process_id}/items", json=body).raise_for_status()
            latencies.append((time.perf_counter() - t0) * 1000)
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    return (
        f"| {backend} | {machine()} | {args.warmup} reviewed | {throughput:,.0f} items/s "
        f"(batches of {BATCH}) | {p50:.1f} ms | {p95:.1f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="PostgreSQL URL (a throwaway schema is used)")
    parser.add_argument("--batches", type=int, default=4, help="batches of 500 to time")
    parser.add_argument("--single", type=int, default=200, help="single-item POSTs to time")
    parser.add_argument("--warmup", type=int, default=300, help="items reviewed before timing")
    args = parser.parse_args()
    print("| backend | machine | agent | batch ingest+decide | single p50 | single p95 |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        print(run("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args), flush=True)
    if args.postgres:
        with postgres_schema(args.postgres, "deshi_bench") as url:
            print(run("PostgreSQL", url, args), flush=True)


if __name__ == "__main__":
    main()
