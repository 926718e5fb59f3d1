"""Crash benchmark: kill -9 the API server and the job worker mid-run; nothing is lost or doubled.

Starts `deshi serve --no-worker` and `deshi worker` on a temporary SQLite file (or a throwaway
PostgreSQL schema with --postgres), posts 10,000 BANKING77 items in batches over HTTP while a
reviewer thread claims and answers queued items, and kills with SIGKILL: the server at 30% of
the items, the worker at 60%, both at 80%; each is restarted at once. A batch whose response did
not arrive is re-sent (idempotent on external_id). At the end it checks, on the database:

- every item is stored exactly once, and has exactly one decision;
- no item was completed twice (at most one review with a final label per item);
- every queued job ran (none left queued or running), and every stored model version has
  exactly one audit event; exactly one champion;
- the audit chain verifies (`deshi audit verify`).

    .venv/bin/python bench/crash_bench.py [--items 10000] [--batch 100] [--reviews 1500]
        [--postgres URL [--no-sqlite]]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _support import banking77_rows, free_port, postgres_schema, prepare_process
from sqlalchemy import Engine, text

from deshi.db import create_db_engine
from deshi.domain import Mode

DESHI = str(Path(sys.executable).with_name("deshi"))


class Child:
    """A `deshi` subprocess that can be SIGKILLed and restarted."""

    def __init__(self, args: list[str], ready_url: str | None = None) -> None:
        self.args, self.ready_url = args, ready_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [DESHI, *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if self.ready_url is None:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.ready_url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.args[0]} did not come up")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Progress:
    acked: int = 0  # items acknowledged by the server
    resent: int = 0  # batches sent again after a lost response
    reviewed: int = 0
    review_errors: int = 0
    done: threading.Event = field(default_factory=threading.Event)


def post_all(
    client: httpx.Client,
    process_id: int,
    data: list[tuple[str, str]],
    batch: int,
    progress: Progress,
) -> None:
    """Post every item; re-send a batch until the server acknowledges it."""
    for start in range(0, len(data), batch):
        body = {
            "items": [
                {"external_id": f"c{i}", "text": data[i][0]}
                for i in range(start, min(start + batch, len(data)))
            ]
        }
        while True:
            try:
                response = client.post(f"/processes/{process_id}/items:batch", json=body)
                if response.status_code in (200, 201):
                    progress.acked += len(body["items"])
                    break
            except httpx.TransportError:
                pass
            progress.resent += 1
            time.sleep(0.3)
    progress.done.set()


def review_loop(
    client: httpx.Client,
    process_id: int,
    truth: dict[str, str],
    limit: int,
    progress: Progress,
    stop: threading.Event,
) -> None:
    """Claim and answer queued items with their true label, up to `limit` answers."""
    while not stop.is_set() and progress.reviewed < limit:
        try:
            claimed = client.post(f"/processes/{process_id}/queue/claim")
            if claimed.status_code == 204:
                time.sleep(0.2)
                continue
            claimed.raise_for_status()
            item = claimed.json()
            answer = {"action": "correct", "label": truth[item["external_id"]]}
            client.post(f"/items/{item['id']}/review", json=answer).raise_for_status()
            progress.reviewed += 1
        except (httpx.TransportError, httpx.HTTPStatusError):
            progress.review_errors += 1
            time.sleep(0.3)


def wait_for_jobs(engine: Engine, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            pending = conn.scalar(
                text("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
            )
        if not pending:
            return True
        time.sleep(1)
    return False


def check(url: str, process_id: int, items: int) -> list[tuple[str, bool, str]]:
    """The invariants, as (name, ok, detail)."""
    engine = create_db_engine(url)
    q = {
        "stored": "SELECT count(*), count(DISTINCT external_id) FROM items WHERE process_id = :p",
        "decisions": "SELECT count(*) FROM items i WHERE process_id = :p AND "
        "(SELECT count(*) FROM decisions d WHERE d.item_id = i.id) != 1",
        "twice": "SELECT count(*) FROM (SELECT item_id FROM reviews WHERE final_label IS NOT NULL"
        " GROUP BY item_id HAVING count(*) > 1) t",
        "completed": "SELECT count(*) FROM items WHERE process_id = :p AND status = 'completed'",
        "jobs": "SELECT status, count(*) FROM jobs GROUP BY status",
        "versions": "SELECT count(*), sum(CASE WHEN status = 'champion' THEN 1 ELSE 0 END) "
        "FROM model_versions WHERE process_id = :p",
        "events": "SELECT count(*) FROM audit_events WHERE action = 'model.retrain'",
    }
    with engine.connect() as conn:
        total, distinct = conn.execute(text(q["stored"]), {"p": process_id}).one()
        bad_decisions = conn.scalar(text(q["decisions"]), {"p": process_id})
        twice = conn.scalar(text(q["twice"]))
        completed = conn.scalar(text(q["completed"]), {"p": process_id})
        jobs: dict[str, int] = {row[0]: row[1] for row in conn.execute(text(q["jobs"]))}
        versions, champions = conn.execute(text(q["versions"]), {"p": process_id}).one()
        events = conn.scalar(text(q["events"]))
    engine.dispose()
    verify = subprocess.run([DESHI, "audit", "verify", "--db", url], capture_output=True, text=True)
    open_jobs = jobs.get("queued", 0) + jobs.get("running", 0)
    return [
        (
            "every item stored exactly once",
            total == distinct == items,
            f"{total} rows, {distinct} distinct of {items}",
        ),
        ("every item decided exactly once", bad_decisions == 0, f"{bad_decisions} items off"),
        (
            "no item completed twice",
            twice == 0,
            f"{twice} items with >1 final review; {completed} completed by review",
        ),
        ("every job ran", open_jobs == 0, f"{jobs}"),
        (
            "one audit event per model version",
            versions == events,
            f"{versions} versions, {events} events, {champions} champion",
        ),
        ("exactly one champion", champions == 1, f"{champions}"),
        ("audit chain verifies", verify.returncode == 0, (verify.stdout or verify.stderr).strip()),
    ]


def run(url: str, args: argparse.Namespace) -> bool:
    data = banking77_rows(args.items)
    labels = sorted({label for _, label in data})
    token, process_id = prepare_process(url, labels, name="crash", mode=Mode.AUTOPILOT)
    truth = {f"c{i}": label for i, (_, label) in enumerate(data)}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Child(["serve", "--db", url, "--port", str(port), "--no-worker"], f"{base}/healthz")
    worker = Child(["worker", "--db", url, "--poll", "0.2", "--lease", str(args.lease)])
    progress, stop = Progress(), threading.Event()
    started = time.perf_counter()
    server.start()
    worker.start()
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=base, headers=headers, timeout=60) as poster,
        httpx.Client(base_url=base, headers=headers, timeout=60) as reviewer,
    ):
        threads = [
            threading.Thread(
                target=post_all, args=(poster, process_id, data, args.batch, progress)
            ),
            threading.Thread(
                target=review_loop, args=(reviewer, process_id, truth, args.reviews, progress, stop)
            ),
        ]
        for t in threads:
            t.start()
        plan = [(0.3, [server]), (0.6, [worker]), (0.8, [server, worker])]
        for share, victims in plan:
            while progress.acked < share * args.items and not progress.done.is_set():
                time.sleep(0.05)
            for victim in victims:
                victim.kill9()
            print(
                f"  kill -9 {' + '.join(v.args[0] for v in victims)} at {progress.acked} "
                "acknowledged items; restarting",
                flush=True,
            )
            for victim in victims:
                victim.start()
        threads[0].join()
        deadline = time.monotonic() + args.review_seconds
        while progress.reviewed < args.reviews and time.monotonic() < deadline:
            time.sleep(0.5)
        stop.set()
        threads[1].join()
    engine = create_db_engine(url)
    drained = wait_for_jobs(engine, args.drain_seconds)
    engine.dispose()
    server.stop()
    worker.stop()
    seconds = time.perf_counter() - started
    print(
        f"  posted {args.items} items ({progress.resent} batch re-sends), "
        f"{progress.reviewed} reviews ({progress.review_errors} errors), jobs drained: "
        f"{drained}, {seconds:.0f} s"
    )
    results = check(url, process_id, args.items)
    for name, ok, detail in results:
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    return all(ok for _, ok, _ in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--postgres", help="PostgreSQL URL (a throwaway schema is used)")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--reviews", type=int, default=1500, help="reviews to submit at most")
    parser.add_argument(
        "--review-seconds", type=float, default=120, help="review time after posting"
    )
    parser.add_argument("--lease", type=float, default=20, help="worker job lease, seconds")
    parser.add_argument("--drain-seconds", type=float, default=300, help="wait for the job queue")
    parser.add_argument(
        "--no-sqlite", action="store_true", help="only the PostgreSQL run (with --postgres)"
    )
    args = parser.parse_args()
    ok = True
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite:", flush=True)
            ok &= run(f"sqlite:///{Path(tmp) / 'crash.db'}", args)
    if args.postgres:
        with postgres_schema(args.postgres, "deshi_crash") as url:
            print("PostgreSQL:", flush=True)
            ok &= run(url, args)
    print("RESULT:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
