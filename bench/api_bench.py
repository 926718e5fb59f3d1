"""API benchmark: batch ingest+decide throughput and single-item latency over real HTTP.

Starts `deshi serve` on a temporary SQLite file (and on PostgreSQL when --postgres URL is given,
in a throwaway schema), warms the agent up with reviewed BANKING77 items and a retrain, then
measures: items/s for batches of 500, and p50/p95 latency of one-item POSTs. Bounded counts,
127.0.0.1 only. Prints one markdown table row per backend for docs/benchmarks.md.

    .venv/bin/python bench/api_bench.py [--postgres postgresql+psycopg://…] [--batches 4]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import httpx
from _support import free_port, machine, postgres_schema

from deshi.auth.permissions import Role
from deshi.auth.service import create_user, grant_role, issue_api_token
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.models import Process
from deshi.learning.service import retrain
from deshi.processes.service import create_department, create_process

BATCH = 500


def banking77() -> list[tuple[str, str]]:
    path = resources.files("deshi") / "data" / "banking77" / "train.csv"
    with path.open(encoding="utf-8") as f:
        return [(row["text"], row["category"]) for row in csv.DictReader(f)]


def prepare(url: str, labels: list[str]) -> tuple[str, int]:
    """Migrate, create a department, a process and an owner token; return (token, process id)."""
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        department = create_department(session, actor="bench", name="Bench")
        user = create_user(session, actor="bench", email="bench@example.com", display_name="b")
        grant_role(
            session, actor="bench", user_id=user.id, role=Role.OWNER, department_id=department.id
        )
        token = issue_api_token(session, actor="bench", user_id=user.id, name="bench").plaintext
        process = create_process(
            session, actor="bench", department_id=department.id, name="bench", labels=labels
        )
    engine.dispose()
    return token, process.id


@contextmanager
def server(url: str, port: int) -> Iterator[None]:
    deshi = Path(sys.executable).with_name("deshi")
    command = [str(deshi), "serve", "--db", url, "--port", str(port), "--no-worker"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("deshi serve did not come up")
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def warm_up(client: httpx.Client, url: str, process_id: int, data: list[tuple[str, str]]) -> None:
    """Review `data` through the API, then retrain once (what the worker would do)."""
    truth = {f"w{i}": label for i, (_, label) in enumerate(data)}
    body = {"items": [{"external_id": f"w{i}", "text": t} for i, (t, _) in enumerate(data)]}
    client.post(f"/processes/{process_id}/items:batch", json=body).raise_for_status()
    while (r := client.post(f"/processes/{process_id}/queue/claim")).status_code == 200:
        item = r.json()
        answer = {"action": "correct", "label": truth[item["external_id"]]}
        client.post(f"/items/{item['id']}/review", json=answer).raise_for_status()
    engine = create_db_engine(url)
    with transaction(make_session_factory(engine)) as session:
        process = session.get(Process, process_id)
        assert process is not None
        retrain(session, process=process)
    engine.dispose()


def run(backend: str, url: str, args: argparse.Namespace) -> str:
    data = banking77()
    labels = sorted({label for _, label in data})
    token, process_id = prepare(url, labels)
    port = free_port()
    with (
        server(url, port),
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
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
