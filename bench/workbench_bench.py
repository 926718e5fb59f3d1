"""Workbench benchmark: the reviewer's "next item" round trip as the browser experiences it.

Starts `deshi serve --no-worker` on a free 127.0.0.1 port against an existing workspace (e.g.
the one `deshi demo` builds), signs in through the real login form (session cookie + the form's
`csrf_token`), opens the workbench page and reads its `<meta name="csrf-token">`, then does
what static/workbench.js does when the reviewer presses Enter: POST the answer to
`/ui/items/{id}/answer` (JSON, `X-CSRF-Token` header) and, once it returns 204, POST
`/ui/processes/{pid}/next` and read the HTML fragment of the next item. One round = both POSTs.
The answer is "accept" when the item has a suggestion, else the first alternative / first label
("correct"), as Enter does. Bounded counts (warm-up + measured rounds), loopback only; the
server is stopped at the end. Prints one markdown table row.

Two moments of issue #23 are timed on their own as well: the **first round after the server
started** (measured when `--warmup 0`: the server builds its agents in a thread at start, and a
first answer that arrives before that is done waits for it), and with `--retrain-every K` the
**first round after a retrain made elsewhere**: every K rounds, `deshi model retrain` runs in its
own OS process (untimed, as a worker would) and stores a new version, which the server's agent
takes in on its next use, or before it: `deshi serve` refreshes its agents every
DESHI_AGENT_REFRESH_SECONDS. `--think S` waits S seconds before each Enter (untimed), as a
reviewer reads the item, which gives the refresh its chance.

A SQLite database is copied to a temporary file first (answering items changes the queue);
pass --in-place to answer on the original.

    .venv/bin/python bench/workbench_bench.py --db sqlite:////tmp/demo-report/deshi.db \\
        --email demo@deshi.example --password '…' [--items 25 --warmup 3] [--retrain-every 10] \
        [--think 6]
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from html import unescape
from pathlib import Path

import httpx
from _support import free_port, machine, server
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ITEM_RE = re.compile(r'<article class="item" data-item-id="(\d+)" data-suggested="([^"]*)"')
LABEL_RE = re.compile(r'<button type="button" data-label="([^"]*)"')
META_RE = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
FIELD_RE = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]*)"')


def copy_sqlite(url: str, directory: str) -> str:
    """A consistent copy of a SQLite database (backup API), as a new URL."""
    source = make_url(url).database
    if not source:
        raise SystemExit("--db must name a SQLite file")
    target = Path(directory) / "deshi.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


def queued(url: str, process_id: int) -> int:
    """How many items of the process wait in the review queue."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            sql = text("SELECT count(*) FROM items WHERE process_id = :p AND status = 'queued'")
            return int(conn.execute(sql, {"p": process_id}).scalar_one())
    finally:
        engine.dispose()


def sign_in(client: httpx.Client, email: str, password: str, process_id: int) -> str:
    """Log in through the form and open the workbench page; its CSRF token (the meta tag)."""
    page = client.get("/login", headers={"Accept": "text/html"})
    page.raise_for_status()
    field = FIELD_RE.search(page.text)
    if not field:
        raise RuntimeError("no csrf_token field on the login form")
    form = {"csrf_token": unescape(field.group(1)), "next": "/", "email": email}
    form["password"] = password
    done = client.post("/login", data=form, headers={"Accept": "text/html"})
    if done.status_code != 303:
        raise RuntimeError(f"login failed: HTTP {done.status_code}")
    work = client.get(f"/processes/{process_id}/work", headers={"Accept": "text/html"})
    work.raise_for_status()
    meta = META_RE.search(work.text)
    if not meta or 'id="workbench"' not in work.text:
        raise RuntimeError("the workbench page has no csrf meta tag or #workbench root")
    return unescape(meta.group(1))


def enter(fragment: str) -> tuple[int, dict[str, object]] | None:
    """What pressing Enter sends for this fragment: (item id, JSON body); None when empty."""
    found = ITEM_RE.search(fragment)
    if not found:
        return None
    item_id, suggested = int(found.group(1)), unescape(found.group(2))
    if suggested:
        return item_id, {"action": "accept"}
    labels = LABEL_RE.findall(fragment)  # alternatives first, then the full label list
    if not labels:
        raise RuntimeError(f"item {item_id} has neither a suggestion nor labels")
    return item_id, {"action": "correct", "label": unescape(labels[0])}


def run(args: argparse.Namespace, url: str) -> str:
    available = queued(url, args.process)
    rounds = args.warmup + args.items
    if available < rounds:
        print(
            f"note: only {available} items queued, fewer than {rounds} wanted; "
            f"lowering the measured count",
            file=sys.stderr,
        )
        rounds = available
    warmup = min(args.warmup, max(rounds - 1, 0))
    measured = rounds - warmup
    if measured < 1:
        raise SystemExit(f"not enough queued items ({available}) to measure anything")

    timings: list[float] = []
    after_retrain: list[float] = []
    retrained = False
    with server(url, free_port()) as base, httpx.Client(base_url=base, timeout=30) as client:
        csrf = sign_in(client, args.email, args.password, args.process)
        headers = {"X-CSRF-Token": csrf, "Accept": "text/html"}
        next_url = f"/ui/processes/{args.process}/next"
        shown = client.post(next_url, headers=headers)  # the page's first loadNext()
        shown.raise_for_status()
        fragment = shown.text
        for n in range(rounds):
            pressed = enter(fragment)
            if pressed is None:
                print(f"note: queue empty after {n} rounds", file=sys.stderr)
                break
            item_id, body = pressed
            body["seconds"] = 1.0
            time.sleep(args.think)  # the reviewer reads the item: untimed
            start = time.perf_counter()
            done = client.post(f"/ui/items/{item_id}/answer", json=body, headers=headers)
            if done.status_code != 204:
                raise RuntimeError(f"answer {item_id}: HTTP {done.status_code} {done.text[:300]}")
            shown = client.post(next_url, headers=headers)
            shown.raise_for_status()
            fragment = shown.text
            elapsed = (time.perf_counter() - start) * 1000
            if n < warmup:
                continue
            timings.append(elapsed)
            if retrained:
                after_retrain.append(elapsed)
            retrained = bool(args.retrain_every) and len(timings) % args.retrain_every == 0
            if retrained:
                retrain_elsewhere(url, args.process)
    if not timings:
        raise SystemExit("no rounds measured")
    backend = make_url(url).get_backend_name()
    rows = [row(f"workbench answer+next ({backend})", timings, f" (+{warmup} warm-up)")]
    if warmup == 0:
        rows.append(row("first round after the server started", timings[:1]))
    if after_retrain:
        rows.append(row("first round after a retrain made elsewhere", after_retrain))
    return "\n".join(rows)


def row(name: str, timings: list[float], note: str = "") -> str:
    """A table row: count, p50, p95 (nearest rank) and max of `timings`, in ms."""
    ordered = sorted(timings)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"| {name} | {len(ordered)}{note} | {p50:.1f} | {p95:.1f} | {ordered[-1]:.1f} "
        f"| {machine()} |"
    )


def retrain_elsewhere(url: str, process_id: int) -> None:
    """`deshi model retrain` in its own OS process, as a worker would retrain."""
    deshi = Path(sys.executable).with_name("deshi")
    command = [str(deshi), "model", "retrain", "--process", str(process_id), "--db", url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"deshi model retrain failed: {done.stderr[-500:]}")
    print(f"note: {done.stdout.strip()}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database URL of a deshi workspace")
    parser.add_argument("--email", default="demo@deshi.example")
    parser.add_argument("--password", required=True)
    parser.add_argument("--process", type=int, default=1)
    parser.add_argument("--items", type=int, default=25, help="measured rounds")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first")
    parser.add_argument("--in-place", action="store_true", help="answer on the original DB")
    parser.add_argument(
        "--retrain-every",
        type=int,
        default=0,
        help="run `deshi model retrain` after every K measured rounds (0: never)",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds the reviewer reads each item before pressing Enter (untimed; default 0)",
    )
    args = parser.parse_args()
    if args.think < 0:
        parser.error("--think must be 0 or more")
    if args.items < 1 or args.items > 500 or args.warmup < 0 or args.warmup > 50:
        parser.error("--items must be 1..500 and --warmup 0..50")
    if args.retrain_every < 0:
        parser.error("--retrain-every must be 0 or more")

    print("| benchmark | rounds | p50 ms | p95 ms | max ms | machine |")
    print("|---|---|---|---|---|---|")
    if make_url(args.db).get_backend_name() == "sqlite" and not args.in_place:
        with tempfile.TemporaryDirectory(prefix="deshi-wb-") as tmp:
            print(run(args, copy_sqlite(args.db, tmp)))
    else:
        print(run(args, args.db))


if __name__ == "__main__":
    main()
