"""Soak benchmark: `deshi serve` (SQLite, in-process worker) under a steady mixed load for an hour.

Builds a workspace on a temporary SQLite file (a department, an owner with a password and an API
token, a BANKING77 process on autopilot), starts `deshi serve` with its background worker on a
free 127.0.0.1 port, warms the process up with 300 reviewed items until the server's worker has
trained a champion, and sends a fixed, paced cycle of requests from one client (a bounded loop on
the loopback only):

- `ingest`: one item, `POST /processes/{id}/items`;
- `batch`: ten items, `POST /processes/{id}/items:batch`;
- `claim` + `review`: `POST /processes/{id}/queue/claim`, then the true label
  (`POST /items/{id}/review`); a 204 (empty queue) is not an error;
- `kpis`: `GET /processes/{id}/kpis` (the API's dashboard data);
- `dashboard`: the dashboard page `/ui/processes/{id}`, signed in through the login form.

Every response other than 2xx counts as an error. The server's RSS, alone and with its direct
children's (a retrain's child process), is read from /proc every `--sample-seconds`; the results
(counts, errors, p50/p95/max per request kind, overall and per `--window-minutes`, every RSS
sample, the growth after `--warmup-minutes`) are rewritten to `--out` at each sample, so a run
stopped early still reports. Tracebacks in the server's log are counted at the end, by the
exception that ended each; the log is kept beside `--out` (`.serve.log`). Last, a second
`deshi serve` is started afresh on the soak's database and answers each request kind once: its
RSS is what a server needs for the data the hour left behind, and the soak server's RSS above
it (`excess_over_fresh_mib`) is what the hour itself kept.

    .venv/bin/python bench/soak_bench.py --minutes 60 --rate 6 --out bench/results/soak.json

The server inherits this process's environment, so an allocator is chosen by setting it here,
e.g. `LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2` (recorded as `allocator_env`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from _support import banking77_rows, free_port, machine

from deshi.auth.service import create_user, grant_role, issue_api_token
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.domain import Mode, Role
from deshi.processes.service import create_department, create_process

DESHI = str(Path(sys.executable).with_name("deshi"))
ALLOCATOR_ENV = ("LD_PRELOAD", "PYTHONMALLOC", "MALLOC_ARENA_MAX")  # inherited by the server
EMAIL, PASSWORD = "soak@example.com", "soak-password-0123456789"
FIELD_RE = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]*)"')
# One cycle of the load: ingest dominates, as in a back office; claim is followed by its review.
CYCLE = ("ingest", "claim", "ingest", "batch", "kpis", "ingest", "claim", "ingest", "dashboard")


@dataclass
class Workspace:
    url: str
    token: str
    process_id: int


def build_workspace(url: str, labels: list[str]) -> Workspace:
    """Schema at head; a department, an owner (password + API token), a process on autopilot."""
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        department = create_department(session, actor="bench", name="Soak")
        user = create_user(
            session, actor="bench", email=EMAIL, display_name="Soak", password=PASSWORD
        )
        grant_role(
            session, actor="bench", user_id=user.id, role=Role.OWNER, department_id=department.id
        )
        token = issue_api_token(session, actor="bench", user_id=user.id, name="soak").plaintext
        process = create_process(
            session, actor="bench", department_id=department.id, name="soak", labels=labels
        )
        process.mode = Mode.AUTOPILOT
    engine.dispose()
    return Workspace(url, token, process.id)


def sign_in(client: httpx.Client) -> None:
    """Sign in through the login form (its CSRF token, then the session cookie)."""
    page = client.get("/login", headers={"Accept": "text/html"})
    page.raise_for_status()
    found = FIELD_RE.search(page.text)
    if not found:
        raise RuntimeError("no csrf_token field on the login form")
    form = {"csrf_token": unescape(found.group(1)), "next": "/", "email": EMAIL}
    form["password"] = PASSWORD
    done = client.post("/login", data=form, headers={"Accept": "text/html"})
    if done.status_code != 303:
        raise RuntimeError(f"login failed: HTTP {done.status_code}")


def warm_up(client: httpx.Client, process_id: int, data: list[tuple[str, str]]) -> None:
    """Review `data` through the API; the server's own worker retrains (its queue has the
    jobs): wait until a champion model decides."""
    truth = {f"w{i}": label for i, (_, label) in enumerate(data)}
    body = {"items": [{"external_id": f"w{i}", "text": t} for i, (t, _) in enumerate(data)]}
    client.post(f"/processes/{process_id}/items:batch", json=body).raise_for_status()
    while (r := client.post(f"/processes/{process_id}/queue/claim")).status_code == 200:
        item = r.json()
        answer = {"action": "correct", "label": truth[item["external_id"]]}
        client.post(f"/items/{item['id']}/review", json=answer).raise_for_status()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        versions = client.get(f"/processes/{process_id}/models").json()
        if any(v["status"] == "champion" for v in versions):
            return
        time.sleep(2)
    raise RuntimeError("no champion model after the warm-up")


def rss_mib(pid: int) -> tuple[float, float]:
    """Resident memory of `pid` alone and of its direct children together, MiB: a retrain's
    child process (`DESHI_ISOLATE_RETRAINS`), the KPI refresh process (`deshi.kpis.refresh`)
    and multiprocessing's resource tracker count in the second. Each thread's children are
    listed apart (`/proc/PID/task/TID/children`), and those children are started by the
    server's worker and request threads, so every thread's list is read (before 2026-12-06
    only the main thread's was, which left them out)."""
    children: set[int] = set()
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread has ended since the listing
            children.update(int(child) for child in listing.read_text().split())
    return _vm_rss_kib(pid) / 1024, sum(_vm_rss_kib(child) for child in children) / 1024


def _vm_rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])
    except OSError:
        pass  # the child has exited since the listing
    return 0


def rss_kinds_mib(pid: int) -> tuple[float, float]:
    """The server's resident memory by kind, MiB: anonymous (the heaps: Python objects, arrays,
    the allocators' free pages) and file-backed (shared libraries, mapped files)."""
    return _vm_rss_kib(pid, "RssAnon") / 1024, _vm_rss_kib(pid, "RssFile") / 1024


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Record:
    """What the load loop saw: (seconds since start, kind, status, latency ms) per request."""

    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, str, int, float]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    rss: list[tuple[float, tuple[float, float]]] = field(default_factory=list)
    rss_kinds: list[tuple[float, tuple[float, float]]] = field(default_factory=list)
    late_ticks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: int, ms: float, detail: str = "") -> None:
        at = time.monotonic() - self.started
        with self.lock:
            self.samples.append((at, kind, status, ms))
            if not 200 <= status < 300:
                self.errors.append(
                    {"t": round(at, 1), "kind": kind, "status": status, "detail": detail[:300]}
                )


def stats(latencies: list[float]) -> dict[str, float | int]:
    if not latencies:
        return {"n": 0}
    return {
        "n": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "max_ms": round(max(latencies), 1),
    }


def summarize(record: Record, args: argparse.Namespace, extra: dict[str, Any]) -> dict[str, Any]:
    with record.lock:
        samples, rss, errors = list(record.samples), list(record.rss), list(record.errors)
        kinds_rss = list(record.rss_kinds)
    kinds = sorted({kind for _, kind, _, _ in samples})
    per_kind = {k: stats([ms for _, kind, _, ms in samples if kind == k]) for k in kinds}
    window = args.window_minutes * 60
    windows = []
    if samples:
        for start in range(0, int(samples[-1][0]) + 1, int(window)):
            part = [s for s in samples if start <= s[0] < start + window]
            windows.append(
                {
                    "from_min": start // 60,
                    "requests": len(part),
                    "kinds": {
                        k: stats([ms for _, kind, _, ms in part if kind == k]) for k in kinds
                    },
                }
            )
    warm = [server for at, (server, _) in rss if at >= args.warmup_minutes * 60]
    warm_all = [sum(parts) for at, parts in rss if at >= args.warmup_minutes * 60]
    elapsed = samples[-1][0] if samples else 0.0
    return {
        **extra,
        "elapsed_s": round(elapsed, 1),
        "requests": len(samples),
        "rate_per_s": round(len(samples) / elapsed, 2) if elapsed else 0.0,
        "error_responses": len(errors),
        "errors": errors[:50],
        "late_ticks": record.late_ticks,
        "per_kind": per_kind,
        "windows": windows,
        "rss_mib": [(round(at), round(server, 1), round(kids, 1)) for at, (server, kids) in rss],
        "rss_anon_file_mib": [(round(at), round(a, 1), round(f, 1)) for at, (a, f) in kinds_rss],
        "rss_after_warmup": _growth(warm),
        "rss_with_children_after_warmup": _growth(warm_all),
    }


def _growth(mib: list[float]) -> dict[str, float | None]:
    """First, last and largest sample, and the largest rise over the first, MiB."""
    if not mib:
        return {"first_mib": None, "last_mib": None, "max_mib": None, "growth_mib": None}
    return {
        "first_mib": round(mib[0], 1),
        "last_mib": round(mib[-1], 1),
        "max_mib": round(max(mib), 1),
        "growth_mib": round(max(mib) - mib[0], 1),
    }


def write(path: Path, summary: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(path)


def load_loop(
    api: httpx.Client,
    ui: httpx.Client,
    ws: Workspace,
    data: list[tuple[str, str]],
    record: Record,
    args: argparse.Namespace,
    stop: threading.Event,
) -> None:
    """Send the cycle at `args.rate` requests/s until `stop` (a review right after its claim)."""
    truth: dict[str, str] = {}
    pid, counter, tick = ws.process_id, 0, 1 / args.rate
    next_at = time.monotonic()

    def timed(kind: str, method: str, path: str, client: httpx.Client, **kw: Any) -> httpx.Response:
        nonlocal next_at
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        elif now - next_at > tick:
            record.late_ticks += 1
        next_at = max(next_at + tick, time.monotonic() - tick)
        begin = time.perf_counter()
        try:
            response = client.request(method, path, **kw)
        except httpx.TransportError as error:
            record.add(kind, 0, (time.perf_counter() - begin) * 1000, repr(error))
            raise
        record.add(
            kind,
            response.status_code,
            (time.perf_counter() - begin) * 1000,
            "" if response.is_success else response.text,
        )
        return response

    def item(i: int) -> dict[str, str]:
        text, label = data[i % len(data)]
        truth[f"s{i}"] = label
        return {"external_id": f"s{i}", "text": text}

    while not stop.is_set():
        for kind in CYCLE:
            if stop.is_set():
                return
            try:
                if kind == "ingest":
                    timed(kind, "POST", f"/processes/{pid}/items", api, json=item(counter))
                    counter += 1
                elif kind == "batch":
                    body = {"items": [item(counter + j) for j in range(10)]}
                    timed(kind, "POST", f"/processes/{pid}/items:batch", api, json=body)
                    counter += 10
                elif kind == "claim":
                    claimed = timed(kind, "POST", f"/processes/{pid}/queue/claim", api)
                    if claimed.status_code == 200:
                        got = claimed.json()
                        answer = {"action": "correct", "label": truth[got["external_id"]]}
                        timed("review", "POST", f"/items/{got['id']}/review", api, json=answer)
                elif kind == "kpis":
                    timed(kind, "GET", f"/processes/{pid}/kpis", api)
                else:
                    timed(kind, "GET", f"/ui/processes/{pid}", ui, headers={"Accept": "text/html"})
            except httpx.TransportError:
                time.sleep(1)


def fresh_server_rss(url: str, process_id: int, log: Path) -> float:
    """RSS (MiB) of a `deshi serve` started afresh on the soak's database, once it has built its
    agent and answered each request kind once: what a server needs for the same data, with no
    hour behind it. The soak server's growth beyond this is what the hour itself kept."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DESHI_SECRET_KEY": "soak-" + "k" * 40}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [DESHI, "serve", "--db", url, "--port", str(port), "--no-worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"{base}/healthz"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fresh server did not come up: {log}")
            time.sleep(0.3)
        with (
            httpx.Client(base_url=base, auth=(EMAIL, PASSWORD), timeout=120) as api,
            httpx.Client(base_url=base, timeout=120) as ui,
        ):
            item = {"external_id": "fresh-1", "text": "Where is my card?"}
            api.post(f"/processes/{process_id}/items", json=item).raise_for_status()
            api.post(f"/processes/{process_id}/queue/claim").raise_for_status()
            api.get(f"/processes/{process_id}/kpis").raise_for_status()
            sign_in(ui)
            ui.get(f"/ui/processes/{process_id}", headers={"Accept": "text/html"})
        samples = []
        for _ in range(5):
            time.sleep(1)
            samples.append(rss_mib(proc.pid)[0])
        return max(samples)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def exceptions(lines: list[str]) -> dict[str, int]:
    """How often each exception ended a traceback in the log: the first unindented line after
    each "Traceback" line (the exception and its message)."""
    found: Counter[str] = Counter()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            after = (ln for ln in lines[i + 1 :] if ln and not ln[0].isspace())
            found[next(after, "(end of log)")[:200]] += 1
    return dict(found.most_common())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=float, default=6, help="requests per second, in total")
    parser.add_argument("--sample-seconds", type=float, default=30, help="RSS sample interval")
    parser.add_argument("--warmup-minutes", type=float, default=5, help="RSS growth counts after")
    parser.add_argument("--window-minutes", type=float, default=5, help="latency windows")
    parser.add_argument(
        "--start-seconds",
        type=float,
        default=60.0,
        help="how long the server may take to answer /healthz (more when it is traced)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/soak.json"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    extra: dict[str, Any] = {
        "commit": commit,
        "machine": machine(),
        "rate_target": args.rate,
        "minutes_target": args.minutes,
        "cycle": list(CYCLE),
        # what shapes the server's memory besides the code: its C allocator and Python's
        "allocator_env": {name: os.environ.get(name) for name in ALLOCATOR_ENV},
    }
    data = banking77_rows(shuffle_seed=0)
    with tempfile.TemporaryDirectory(prefix="deshi-soak-") as tmp:
        ws = build_workspace(f"sqlite:///{Path(tmp) / 'soak.db'}", sorted({lb for _, lb in data}))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = Path(tmp) / "serve.log"
        env = {**os.environ, "DESHI_SECRET_KEY": "soak-" + "k" * 40}
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [DESHI, "serve", "--db", ws.url, "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            deadline = time.monotonic() + args.start_seconds
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log_path.read_text()[-2000:])
                time.sleep(0.3)
            headers = {"Authorization": f"Bearer {ws.token}"}
            with (
                httpx.Client(base_url=base, headers=headers, timeout=60) as api,
                httpx.Client(base_url=base, timeout=60) as ui,
            ):
                warm_up(api, ws.process_id, data[-300:])
                sign_in(ui)
                record, stop = Record(), threading.Event()
                loop = threading.Thread(
                    target=load_loop, args=(api, ui, ws, data[:-300], record, args, stop)
                )
                loop.start()
                end = record.started + args.minutes * 60
                try:
                    while time.monotonic() < end and loop.is_alive():
                        at = time.monotonic() - record.started
                        record.rss.append((at, rss_mib(proc.pid)))
                        record.rss_kinds.append((at, rss_kinds_mib(proc.pid)))
                        write(args.out, summarize(record, args, extra))
                        time.sleep(min(args.sample_seconds, max(0.0, end - time.monotonic())))
                finally:
                    stop.set()
                    loop.join()
                    record.rss.append((time.monotonic() - record.started, rss_mib(proc.pid)))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            server_log = log_path.read_text(errors="replace")
            args.out.with_suffix(".serve.log").write_text(server_log)
            extra["server_tracebacks"] = server_log.count("Traceback")
            extra["server_exceptions"] = exceptions(server_log.splitlines())
            extra["server_exit_code"] = proc.returncode
        fresh = fresh_server_rss(ws.url, ws.process_id, Path(tmp) / "fresh.log")
        extra["fresh_server_rss_mib"] = round(fresh, 1)
        extra["excess_over_fresh_mib"] = round(record.rss[-1][1][0] - fresh, 1)
        summary = summarize(record, args, extra)
        write(args.out, summary)
    kinds = summary["per_kind"]
    print(
        f"{summary['elapsed_s'] / 60:.1f} min, {summary['requests']} requests "
        f"({summary['rate_per_s']}/s), {summary['error_responses']} error responses, "
        f"{extra['server_tracebacks']} tracebacks; RSS after warm-up "
        f"{summary['rss_after_warmup']}, with children "
        f"{summary['rss_with_children_after_warmup']}; a fresh server on the same data "
        f"{fresh:.1f} MiB (the soak's server "
        f"{extra['excess_over_fresh_mib']:+.1f} MiB above it)"
    )
    for kind, s in kinds.items():
        print(f"  {kind}: {s}")
    sys.exit(0 if summary["error_responses"] == 0 else 1)


if __name__ == "__main__":
    main()
