"""Fault benchmark: the disk filling up during ingest, and PostgreSQL restarted under load.

`disk` (needs root: it mounts a file system): makes a small ext4 file system in a loop-mounted
file (or a tmpfs, `--fs tmpfs`) holding a SQLite workspace and a ballast file, runs
`deshi serve` on it and ingests batches of 50 items over HTTP until the disk is full. Then it
sends a few more batches (each must fail the same way), reads from the API, deletes the ballast
(frees space), re-sends the refused batches and a few new ones (ingest must resume without a
restart), stops the server and checks: the refusals were problem+json 507 naming no driver
internals; no refused batch left an item behind while refused; every acknowledged item is stored
exactly once; `PRAGMA integrity_check` is ok; `deshi audit verify` passes.

`postgres` (needs root, or to run as the `postgres` user): creates a throwaway PostgreSQL
cluster (`initdb` into `--pgdata`, port `--pgport`, socket in /tmp), runs `deshi serve` (with its
in-process worker) against it, and keeps a steady load (batches of 10 items, claim + review,
KPI reads) while `pg_ctl restart -m fast` runs `--restarts` times. It reports, per restart, the
refused requests (status, problem+json, driver internals in the body), the time from the
restart until requests succeed again, and failures after PostgreSQL was back; and at the end
checks that refused batches stored nothing, acknowledged ones everything, every queued job ran,
and the audit chain verifies. The cluster is stopped and deleted afterwards.

    sudo .venv/bin/python bench/fault_bench.py disk [--runs 3] [--mib 16] [--fs ext4|tmpfs]
    sudo .venv/bin/python bench/fault_bench.py postgres [--restarts 5] [--pgport 55432]

Results go to `--out` as JSON, and a summary is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _support import banking77_rows, free_port, machine, prepare_process
from sqlalchemy import text

from deshi.db import create_db_engine

DESHI = str(Path(sys.executable).with_name("deshi"))
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PROBLEM_JSON = "application/problem+json"
# Words that would mean a driver's internals reached a client.
LEAKS = ("Traceback", "sqlite3", "psycopg", "OperationalError", "SELECT ", "INSERT ", "UPDATE ")


def leaks(body: str) -> list[str]:
    return [word for word in LEAKS if word in body]


@contextmanager
def serving(url: str, log_path: Path, *, worker: bool = True) -> Iterator[tuple[str, int]]:
    """`deshi serve` on a free loopback port; yields (base URL, pid); SIGTERM at the end."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [DESHI, "serve", "--db", url, "--port", str(port)]
    if not worker:
        command.append("--no-worker")
    with log_path.open("ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log_path.read_text(errors="replace")[-2000:])
            time.sleep(0.3)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def traceback_sources(log: str) -> list[str]:
    """The log line before each traceback (the message that logged it), deduplicated."""
    lines = log.splitlines()
    found = {lines[i - 1][-160:] for i, line in enumerate(lines) if line.startswith("Traceback")}
    return sorted(found)


def audit_verify(url: str) -> tuple[bool, str]:
    done = subprocess.run([DESHI, "audit", "verify", "--db", url], capture_output=True, text=True)
    return done.returncode == 0, (done.stdout or done.stderr).strip().splitlines()[0]


def stored_ids(url: str, process_id: int) -> list[str]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT external_id FROM items WHERE process_id = :p"), {"p": process_id}
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


# --- the disk fills up -------------------------------------------------------------------------


@contextmanager
def small_filesystem(kind: str, mib: int, workdir: Path) -> Iterator[Path]:
    """A mounted file system of `mib` MiB (ext4 in a loop-mounted file, or tmpfs)."""
    mount = workdir / "mnt"
    mount.mkdir()
    if kind == "tmpfs":
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(mount)], check=True
        )
    else:
        image = workdir / "disk.img"
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={image}", "bs=1M", f"count={mib}", "status=none"],
            check=True,
        )
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True)
        subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def disk_run(args: argparse.Namespace, run: int, data: list[tuple[str, str]]) -> dict[str, Any]:
    labels = sorted({label for _, label in data})
    with tempfile.TemporaryDirectory(prefix="deshi-disk-") as tmp:
        workdir = Path(tmp)
        with small_filesystem(args.fs, args.mib, workdir) as mount:
            url = f"sqlite:///{mount / 'deshi.db'}"
            token, process_id = prepare_process(url, labels, name="disk")
            ballast = mount / "ballast"
            with ballast.open("wb") as f:
                f.write(os.urandom(args.ballast_mib * 1024 * 1024))
                f.flush()
                os.fsync(f.fileno())
            log = workdir / "serve.log"
            result: dict[str, Any] = {"run": run}
            acked: set[str] = set()
            refused: list[list[str]] = []
            statuses: list[int] = []
            bodies: list[str] = []
            counter = 0

            def batch() -> list[dict[str, str]]:
                nonlocal counter
                items = []
                for _ in range(args.batch):
                    text_, _label = data[counter % len(data)]
                    items.append({"external_id": f"d{counter}", "text": (text_ + " ") * 12})
                    counter += 1
                return items

            with serving(url, log) as (base, _pid):
                headers = {"Authorization": f"Bearer {token}"}
                with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                    path = f"/processes/{process_id}/items:batch"
                    started = time.monotonic()
                    while not refused and time.monotonic() - started < 600:
                        items = batch()
                        response = client.post(path, json={"items": items})
                        if response.is_success:
                            acked.update(item["external_id"] for item in items)
                        else:
                            refused.append([item["external_id"] for item in items])
                            statuses.append(response.status_code)
                            bodies.append(response.text)
                            result["first_refusal"] = {
                                "status": response.status_code,
                                "content_type": response.headers.get("content-type"),
                                "body": response.json()
                                if PROBLEM_JSON in response.headers.get("content-type", "")
                                else response.text[:300],
                            }
                    result["acked_before_full"] = len(acked)
                    result["db_mib_when_full"] = round(
                        sum(p.stat().st_size for p in mount.glob("deshi.db*")) / 2**20, 2
                    )
                    for _ in range(args.more):
                        items = batch()
                        response = client.post(path, json={"items": items})
                        if response.is_success:
                            acked.update(item["external_id"] for item in items)
                        else:
                            refused.append([item["external_id"] for item in items])
                            statuses.append(response.status_code)
                            bodies.append(response.text)
                    result["health_while_full"] = client.get("/healthz").status_code
                    result["read_while_full"] = client.get(f"/processes/{process_id}").status_code
                    present = set(stored_ids(url, process_id))
                    result["refused_batches"] = len(refused)
                    result["refused_statuses"] = sorted(set(statuses))
                    result["refusals_problem_json"] = all(b.startswith("{") for b in bodies)
                    result["refusals_leaking"] = sorted({w for b in bodies for w in leaks(b)})
                    result["refused_items_stored_while_full"] = sum(
                        1 for ids in refused for i in ids if i in present
                    )
                    result["acked_items_missing_while_full"] = len(acked - present)
                    ballast.unlink()
                    freed = time.monotonic()
                    resent_ok = 0
                    for ids in refused:
                        body = {"items": [{"external_id": i, "text": "resent " + i} for i in ids]}
                        response = client.post(path, json=body)
                        if response.is_success:
                            resent_ok += 1
                            acked.update(ids)
                    new_ok = 0
                    for _ in range(args.more):
                        items = batch()
                        if client.post(path, json={"items": items}).is_success:
                            new_ok += 1
                            acked.update(item["external_id"] for item in items)
                    result["resumed_after_freeing_s"] = round(time.monotonic() - freed, 2)
                    result["resent_accepted"] = f"{resent_ok}/{len(refused)}"
                    result["new_after_freeing_accepted"] = f"{new_ok}/{args.more}"
            final = stored_ids(url, process_id)
            result["stored_items"] = len(final)
            result["stored_distinct"] = len(set(final))
            result["acked_items"] = len(acked)
            result["every_acked_stored_once"] = len(final) == len(set(final)) == len(acked) and (
                set(final) == acked
            )
            conn = sqlite3.connect(mount / "deshi.db")
            try:
                result["integrity_check"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                conn.close()
            ok, line = audit_verify(url)
            result["audit_verify"] = {"ok": ok, "output": line}
            server_log = log.read_text(errors="replace")
            result["server_log_tracebacks"] = server_log.count("Traceback")
            result["server_log_traceback_sources"] = traceback_sources(server_log)
            result["server_log_database_errors"] = server_log.count("database error on")
    return result


def all_of(count: str) -> bool:
    """'5/5' → True, '3/5' → False."""
    done, total = count.split("/")
    return done == total


def disk_ok(r: dict[str, Any]) -> bool:
    return bool(
        r["refused_statuses"] == [507]
        and r["refusals_problem_json"]
        and not r["refusals_leaking"]
        and r["refused_items_stored_while_full"] == 0
        and r["acked_items_missing_while_full"] == 0
        and all_of(r["resent_accepted"])
        and all_of(r["new_after_freeing_accepted"])
        and r["every_acked_stored_once"]
        and r["integrity_check"] == "ok"
        and r["audit_verify"]["ok"]
        and r["health_while_full"] == 200
        and r["read_while_full"] == 200
    )


def disk(args: argparse.Namespace) -> dict[str, Any]:
    data = banking77_rows(shuffle_seed=0)
    runs = []
    for run in range(args.runs):
        r = disk_run(args, run, data)
        r["pass"] = disk_ok(r)
        print(json.dumps(r, indent=1), flush=True)
        runs.append(r)
    return {
        "scenario": "disk",
        "fs": args.fs,
        "mib": args.mib,
        "ballast_mib": args.ballast_mib,
        "runs": runs,
        "passed": sum(r["pass"] for r in runs),
        "median_acked_before_full": statistics.median(r["acked_before_full"] for r in runs),
        "median_resume_s": statistics.median(r["resumed_after_freeing_s"] for r in runs),
    }


# --- PostgreSQL restarts -----------------------------------------------------------------------


def as_postgres(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as the `postgres` user (it refuses to run as root)."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, check=True)


@contextmanager
def throwaway_cluster(pgdata: Path, port: int) -> Iterator[str]:
    """A new PostgreSQL cluster on `port` (trust auth, loopback); stopped and deleted after."""
    if pgdata.exists():
        raise SystemExit(f"{pgdata} exists: remove it first (it is not ours to delete)")
    log = Path(f"{pgdata}.log")
    as_postgres([str(PG_BIN / "initdb"), "-D", str(pgdata), "-A", "trust", "-U", "postgres"])
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w"]
    options = f"-p {port} -k /tmp -c listen_addresses=127.0.0.1"
    try:
        as_postgres([*pg_ctl, "-o", options, "start"])
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *pg_ctl, "stop", "-m", "fast"]
            if os.geteuid() == 0
            else [*pg_ctl, "stop", "-m", "fast"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(pgdata, ignore_errors=True)
        log.unlink(missing_ok=True)


@dataclass
class Load:
    """What the load thread saw: one row per request, and the batches refused or acknowledged."""

    started: float = field(default_factory=time.monotonic)
    rows: list[dict[str, Any]] = field(default_factory=list)
    acked: set[str] = field(default_factory=set)
    refused: list[list[str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: int, body: str, ctype: str) -> None:
        row = {"t": time.monotonic() - self.started, "kind": kind, "status": status}
        if not 200 <= status < 300:
            row |= {
                "problem_json": ctype.startswith(PROBLEM_JSON),
                "leaks": leaks(body),
                "body": body[:200],
            }
        with self.lock:
            self.rows.append(row)


def pg_load(
    client: httpx.Client,
    process_id: int,
    data: list[tuple[str, str]],
    load: Load,
    stop: threading.Event,
    rate: float,
) -> None:
    """Batches of 10, claim + review, KPI reads, at about `rate` requests/s; never re-sends."""
    truth: dict[str, str] = {}
    counter = 0
    while not stop.is_set():
        for kind in ("batch", "claim", "kpis"):
            begin = time.monotonic()
            try:
                if kind == "batch":
                    items = []
                    for _ in range(10):
                        text_, label = data[counter % len(data)]
                        truth[f"p{counter}"] = label
                        items.append({"external_id": f"p{counter}", "text": text_})
                        counter += 1
                    ids = [item["external_id"] for item in items]
                    r = client.post(f"/processes/{process_id}/items:batch", json={"items": items})
                    if r.is_success:
                        load.acked.update(ids)
                    else:
                        load.refused.append(ids)
                elif kind == "claim":
                    r = client.post(f"/processes/{process_id}/queue/claim")
                    if r.status_code == 200:
                        got = r.json()
                        load.add("claim", r.status_code, "", "")
                        answer = {
                            "action": "correct",
                            "label": truth.get(got["external_id"], "card_arrival"),
                        }
                        r = client.post(f"/items/{got['id']}/review", json=answer)
                        kind = "review"
                else:
                    r = client.get(f"/processes/{process_id}/kpis")
                load.add(kind, r.status_code, r.text, r.headers.get("content-type", ""))
            except httpx.TransportError as error:
                load.add(kind, 0, repr(error), "")
                if kind == "batch":
                    load.refused.append(ids)
            time.sleep(max(0.0, 1 / rate - (time.monotonic() - begin)))


def postgres(args: argparse.Namespace) -> dict[str, Any]:
    data = banking77_rows(shuffle_seed=1)
    labels = sorted({label for _, label in data})
    pgdata = Path(args.pgdata)
    restarts: list[dict[str, Any]] = []
    with throwaway_cluster(pgdata, args.pgport) as url, tempfile.TemporaryDirectory() as tmp:
        token, process_id = prepare_process(url, labels, name="pgfault")
        log = Path(tmp) / "serve.log"
        # -l: the restarted server must not inherit our pipe (run() would wait for it forever).
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-l", f"{pgdata}.log", "-w"]
        with serving(url, log) as (base, _pid):
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                load, stop = Load(), threading.Event()
                thread = threading.Thread(
                    target=pg_load, args=(client, process_id, data, load, stop, args.rate)
                )
                thread.start()
                try:
                    for n in range(args.restarts):
                        time.sleep(args.between)
                        begin = time.monotonic() - load.started
                        as_postgres(
                            [*pg_ctl, "-m", "fast", "restart", "-o", f"-p {args.pgport} -k /tmp"]
                        )
                        back = time.monotonic() - load.started
                        restarts.append(
                            {"n": n, "restart_at_s": round(begin, 2), "back_at_s": round(back, 2)}
                        )
                    time.sleep(args.between)
                finally:
                    stop.set()
                    thread.join()
        engine = create_db_engine(url)
        deadline = time.monotonic() + args.drain_seconds
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                pending = conn.scalar(
                    text("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
                )
                conn.rollback()
                if not pending:
                    break
                time.sleep(1)
            jobs = {
                row[0]: row[1]
                for row in conn.execute(text("SELECT status, count(*) FROM jobs GROUP BY status"))
            }
        engine.dispose()
        final = stored_ids(url, process_id)
        ok, line = audit_verify(url)
        server_log = log.read_text(errors="replace")
    rows = load.rows
    windows = []
    for i, r in enumerate(restarts):
        end = restarts[i + 1]["restart_at_s"] if i + 1 < len(restarts) else rows[-1]["t"] + 1
        part = [row for row in rows if r["restart_at_s"] - 0.5 <= row["t"] < end]
        failed = [row for row in part if not 200 <= row["status"] < 300]
        last_fail = max((row["t"] for row in failed), default=r["restart_at_s"])
        r |= {
            "requests": len(part),
            "failed": len(failed),
            "failed_statuses": sorted({row["status"] for row in failed}),
            "failed_problem_json": sum(row.get("problem_json", False) for row in failed),
            "failed_leaking": sorted({w for row in failed for w in row.get("leaks", [])}),
            "failed_after_back": sum(row["t"] > r["back_at_s"] for row in failed),
            "recovered_s_after_restart": round(last_fail - r["restart_at_s"], 2),
            "recovered_s_after_back": round(max(0.0, last_fail - r["back_at_s"]), 2),
            "sample_body": failed[0]["body"] if failed else "",
        }
        windows.append(r)
    present = set(final)
    refused_ids = [i for ids in load.refused for i in ids]
    summary = {
        "scenario": "postgres",
        "restarts": windows,
        "requests": len(rows),
        "failed": sum(not 200 <= row["status"] < 300 for row in rows),
        "outside_restarts_failed": sum(
            not 200 <= row["status"] < 300
            for row in rows
            if not any(w["restart_at_s"] - 0.5 <= row["t"] < w["back_at_s"] + 5 for w in windows)
        ),
        "median_recovered_s_after_restart": statistics.median(
            w["recovered_s_after_restart"] for w in windows
        ),
        "max_recovered_s_after_back": max(w["recovered_s_after_back"] for w in windows),
        "refused_batches": len(load.refused),
        "refused_batches_partly_stored": sum(
            0 < sum(i in present for i in ids) < len(ids) for ids in load.refused
        ),
        "refused_batches_fully_stored": sum(all(i in present for i in ids) for ids in load.refused),
        "refused_items_stored": sum(i in present for i in refused_ids),
        "acked_items": len(load.acked),
        "acked_items_missing": len(load.acked - present),
        "stored_items": len(final),
        "stored_distinct": len(present),
        "jobs": jobs,
        "audit_verify": {"ok": ok, "output": line},
        "server_log_tracebacks": server_log.count("Traceback"),
        "server_log_traceback_sources": traceback_sources(server_log),
        "server_log_database_errors": server_log.count("database error on"),
    }
    summary["pass"] = bool(
        summary["acked_items_missing"] == 0
        and summary["refused_batches_partly_stored"] == 0
        and summary["stored_items"] == summary["stored_distinct"]
        and all(w["failed_problem_json"] == w["failed"] for w in windows)
        and all(not w["failed_leaking"] for w in windows)
        and not jobs.get("queued")
        and not jobs.get("running")
        and ok
    )
    print(json.dumps(summary, indent=1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="scenario", required=True)
    d = sub.add_parser("disk", help="the disk fills up during ingest (needs root)")
    d.add_argument("--runs", type=int, default=3)
    d.add_argument("--fs", choices=("ext4", "tmpfs"), default="ext4")
    d.add_argument("--mib", type=int, default=16, help="size of the file system")
    d.add_argument("--ballast-mib", type=int, default=2, help="freed once the disk is full")
    d.add_argument("--batch", type=int, default=50)
    d.add_argument("--more", type=int, default=5, help="batches sent when full, and after")
    p = sub.add_parser("postgres", help="a throwaway PostgreSQL restarted under load")
    p.add_argument("--restarts", type=int, default=5)
    p.add_argument("--between", type=float, default=15, help="seconds of load between restarts")
    p.add_argument("--rate", type=float, default=10, help="requests per second")
    p.add_argument("--pgdata", default="/tmp/pgfault")
    p.add_argument("--pgport", type=int, default=55432)
    p.add_argument("--drain-seconds", type=float, default=300)
    for sp in (d, p):
        sp.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    result = disk(args) if args.scenario == "disk" else postgres(args)
    result |= {"commit": commit, "machine": machine()}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    ok = result["passed"] == len(result["runs"]) if args.scenario == "disk" else result["pass"]
    print("RESULT:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
