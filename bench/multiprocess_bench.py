"""Multi-process benchmark: several `deshi serve` processes on one PostgreSQL database.

Starts N `deshi serve --no-worker` processes (default 2) on a throwaway schema of one PostgreSQL
database, warms the agent up through the API with 300 reviewed BANKING77 items (shuffled, seed
0) and a retrain, in assist mode, then measures:

1. Cross-process correction latency. An item is posted to server A and corrected there to a label
   other than the agent's (its runner-up); at once a near-duplicate (the same text upper-cased,
   with "!": the same features, cosine ≥ 0.95) is posted to server B. Timed from A's review
   response to B's decision response. B's decision reflects the correction when its evidence
   holds the corrected case (it reached B's case memory) and its label is the corrected one (the
   duplicate rule decided it). When the first near-duplicate misses, more are posted until one
   reflects it (up to 5 s). Rows: one reviewer going A → B, B → C, … in turn; the same with
   A = B (the control: one process, no catch-up); then 2N reviewers at once, so reviews commit
   concurrently on several servers and their ids can become visible out of order.
2. Throughput with 1 vs N servers: N clients at once each post two batches of 500 items, client
   j to server j (N servers) or all to one server (items/s, median of the rounds), and the p50
   of one-item POSTs sent in turn to the N servers or to one; the two configurations are
   interleaved, so load from elsewhere on the machine falls on both alike.

Bounded counts (about a minute), 127.0.0.1 only. Prints markdown tables for docs/benchmarks.md.

    .venv/bin/python bench/multiprocess_bench.py [--postgres postgresql+psycopg://…] [--servers 2]
        [--corrections 50] [--reviewers 4] [--rounds 5] [--single 100]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

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
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from deshi.domain import Mode
from deshi.engine.featurize import normalise

BATCH = 500
BATCHES_PER_CLIENT = 2  # per round: a round of two clients takes about a second
RETRY_SECONDS = 5.0
FALLBACK = ("age_limit", "atm_support")  # BANKING77 labels, when no runner-up is offered
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class Correction:
    """One correction on server A and the near-duplicates decided after it on server B."""

    ms: float  # from A's review response to B's first decision response
    evidence: bool  # B's first decision listed the corrected case among its evidence
    label: bool  # … and took the corrected label
    reflected_ms: float | None  # until a near-duplicate's evidence held the case (None: never)


class Api:
    """The few API calls the benchmark makes, on one server, for one process."""

    def __init__(self, base: str, token: str, process_id: int) -> None:
        self.base, self.token, self.process_id = base, token, process_id
        headers = {"Authorization": f"Bearer {token}"}
        self.client = httpx.Client(base_url=base, headers=headers, timeout=120)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def another(self) -> Api:
        """The same server through a client of its own (one per thread)."""
        return Api(self.base, self.token, self.process_id)

    def post(self, external_id: str, text: str) -> dict[str, Any]:
        body = {"external_id": external_id, "text": text}
        response = self.client.post(f"/processes/{self.process_id}/items", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def post_batch(self, prefix: str, texts: Sequence[str]) -> None:
        body = {"items": [{"external_id": f"{prefix}-{i}", "text": t} for i, t in enumerate(texts)]}
        self.client.post(f"/processes/{self.process_id}/items:batch", json=body).raise_for_status()

    def get(self, item_id: int) -> dict[str, Any]:
        response = self.client.get(f"/items/{item_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def claim(self) -> dict[str, Any] | None:
        response = self.client.post(f"/processes/{self.process_id}/queue/claim")
        response.raise_for_status()
        return None if response.status_code == 204 else response.json()

    def correct(self, item_id: int, label: str) -> None:
        body = {"action": "correct", "label": label}
        self.client.post(f"/items/{item_id}/review", json=body).raise_for_status()

    def settle(self, item: dict[str, Any]) -> None:
        """Answer a claimed item with the agent's label (stored as an accept)."""
        suggestion = item["suggestion"]
        self.correct(item["id"], suggestion["label"] if suggestion else item["labels"][0])

    def drain(self) -> None:
        """Answer every queued item with the agent's label."""
        while (item := self.claim()) is not None:
            self.settle(item)


@contextmanager
def servers(url: str, token: str, process_id: int, count: int) -> Iterator[list[Api]]:
    """`count` servers on one database, each with a client; all stopped on any exit."""
    with ExitStack() as stack:
        bases = [stack.enter_context(server(url, free_port())) for _ in range(count)]
        yield [stack.enter_context(Api(base, token, process_id)) for base in bases]


def runner_up(decision: dict[str, Any]) -> str:
    """The agent's second choice: the correction the benchmark makes."""
    others = [x["label"] for x in decision["alternatives"] if x["label"] != decision["label"]]
    return others[0] if others else FALLBACK[decision["label"] == FALLBACK[0]]


def reflects(item: dict[str, Any], case_id: int, label: str) -> tuple[bool, bool]:
    """(the corrected case is in the decision's evidence, the decision took its label)."""
    decision = item["decision"]
    evidence = any(case["case_id"] == str(case_id) for case in decision["evidence"])
    return evidence, decision["label"] == label


def claim_original(api: Api) -> dict[str, Any]:
    """Claim the next queued item that is not a near-duplicate; those are answered on the way
    (other reviewers' near-duplicates, or this one's from its last round)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        item = api.claim()
        if item is None:
            time.sleep(0.01)  # another reviewer holds the items; ours is being stored
        elif "-twin" in item["external_id"]:
            api.settle(item)
        else:
            return item
    raise RuntimeError("no item to claim for 60 s")


def correct_then_decide(a: Api, b: Api, text: str, tag: str) -> Correction:
    """Post `text` to A, claim an item there and correct it to the agent's runner-up, then
    decide near-duplicates of it on B until one reflects the correction (or 5 s pass).

    With one reviewer the claimed item is the one just posted; with several it may be another
    reviewer's, which is as good.
    """
    a.post(tag, text)
    item = claim_original(a)
    decision = item["suggestion"] or a.get(item["id"])["decision"]  # audit items come blind
    corrected = runner_up(decision)
    a.correct(item["id"], corrected)
    started = time.perf_counter()
    twin = b.post(f"{item['external_id']}-twin0", item["text"].upper() + "!")
    ms = (time.perf_counter() - started) * 1000
    evidence, label = reflects(twin, item["id"], corrected)
    reflected_ms: float | None = ms if evidence else None
    for k in itertools.count(1):
        if reflected_ms is not None or time.perf_counter() - started > RETRY_SECONDS:
            break
        time.sleep(0.05)
        again = b.post(f"{item['external_id']}-twin{k}", item["text"].upper() + "!" * (k + 1))
        if reflects(again, item["id"], corrected)[0]:
            reflected_ms = (time.perf_counter() - started) * 1000
    return Correction(ms, evidence, label, reflected_ms)


def analyze(url: str) -> None:
    """ANALYZE the schema's tables. Autovacuum would within a minute or so; the benchmark is
    quicker, and with the statistics of empty tables the registry's catch-up queries scan whole
    tables (single-item p50 17 → 29 ms after 16,000 items, back to 18 ms after ANALYZE)."""
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        tables = conn.exec_driver_sql(query).scalars().all()
        for table in tables:
            conn.exec_driver_sql(f'ANALYZE "{table}"')
    engine.dispose()


def distinct_texts(rows: Sequence[tuple[str, str]], count: int, seen: set[str]) -> list[str]:
    """`count` texts from `rows` whose normalised forms differ from each other and `seen`."""
    texts = []
    for text, _ in rows:
        key = normalise(text)
        if key not in seen:
            seen.add(key)
            texts.append(text)
            if len(texts) == count:
                return texts
    raise RuntimeError(f"fewer than {count} distinct texts")


def pct(values: Sequence[float], q: int) -> float:
    """The q-th percentile (q = 50 or 95)."""
    return statistics.median(values) if q == 50 else statistics.quantiles(values, n=20)[-1]


def concurrent(apis: list[Api], texts: Sequence[str], reviewers: int) -> list[Correction]:
    """`reviewers` threads at once, reviewer j correcting on server j mod N and deciding the
    near-duplicates on the next one, so reviews commit concurrently on several servers (their
    ids can become visible out of order: what the registry's id cursor is for)."""
    per = len(texts) // reviewers

    def reviewer(j: int) -> list[Correction]:
        with (
            apis[j % len(apis)].another() as a,
            apis[(j + 1) % len(apis)].another() as b,
        ):
            chunk = texts[j * per : (j + 1) * per]
            return [correct_then_decide(a, b, t, f"c{j}-{i}") for i, t in enumerate(chunk)]

    with ThreadPoolExecutor(reviewers) as pool:
        runs = [r for rs in pool.map(reviewer, range(reviewers)) for r in rs]
    apis[0].drain()
    return runs


def correction_row(name: str, agent: str, runs: Sequence[Correction]) -> str:
    """One table row: latency percentiles and how many runs reflected the correction."""
    ms, n = [r.ms for r in runs], len(runs)
    never = sum(r.reflected_ms is None for r in runs)
    late = [r.reflected_ms for r in runs if not r.evidence and r.reflected_ms is not None]
    later = f"{len(late)} (max {max(late):.0f} ms)" if late else "0"
    return (
        f"| {name} | {agent} | {n} | {pct(ms, 50):.1f} ms | {pct(ms, 95):.1f} ms "
        f"| {sum(r.evidence for r in runs)}/{n} | {sum(r.label for r in runs)}/{n} "
        f"| {later} | {never} |"
    )


def correction_rows(apis: list[Api], texts: list[str], args: argparse.Namespace) -> list[str]:
    """Sequential cross-process corrections (A → B, B → C, …, in turn) interleaved with the
    same-server control, then `args.reviewers` concurrent reviewers; one row each."""
    n, agent = args.corrections, f"{args.warmup} reviewed"
    cross: list[Correction] = []
    same: list[Correction] = []
    for i in range(n):
        a, b = apis[i % len(apis)], apis[(i + 1) % len(apis)]
        cross.append(correct_then_decide(a, b, texts[i], f"x{i}"))
        same.append(correct_then_decide(a, a, texts[n + i], f"s{i}"))
    apis[0].drain()
    together = concurrent(apis, texts[2 * n :], args.reviewers)
    return [
        correction_row(f"A → B ({len(apis)} servers)", agent, cross),
        correction_row("A → A (control)", agent, same),
        correction_row(f"A → B, {args.reviewers} reviewers at once", agent, together),
    ]


def batch_round(apis: list[Api], threads: int, texts: Sequence[str], prefix: str) -> float:
    """items/s when `threads` clients at once, client j on server j mod len(apis), each post
    BATCHES_PER_CLIENT batches of BATCH items one after the other."""
    size = BATCHES_PER_CLIENT * BATCH

    def client(j: int, api: Api) -> None:
        for b in range(BATCHES_PER_CLIENT):
            start = j * size + b * BATCH
            api.post_batch(f"{prefix}-{j}-{b}", texts[start : start + BATCH])

    with ExitStack() as stack, ThreadPoolExecutor(threads) as pool:
        own = [stack.enter_context(apis[j % len(apis)].another()) for j in range(threads)]
        started = time.perf_counter()
        for future in [pool.submit(client, j, api) for j, api in enumerate(own)]:
            future.result()
        return threads * size / (time.perf_counter() - started)


def single_ms(apis: list[Api], texts: Sequence[str], prefix: str) -> list[float]:
    """Milliseconds of one-item POSTs sent to the servers in turn."""
    latencies = []
    for i, text in enumerate(texts):
        started = time.perf_counter()
        apis[i % len(apis)].post(f"{prefix}-{i}", text)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def throughput_rows(
    apis: list[Api], texts: Sequence[str], args: argparse.Namespace, url: str
) -> list[str]:
    """1 server vs all: concurrent batch throughput and single-item latency, the two
    configurations interleaved (rounds of batches, blocks of 10 single items), so load from
    elsewhere on the machine falls on both alike."""
    threads = len(apis)
    configs = {1: apis[:1], len(apis): apis}
    rates: dict[int, list[float]] = {k: [] for k in configs}
    chunks = iter(range(0, len(texts), threads * BATCHES_PER_CLIENT * BATCH))
    for r in range(args.rounds):
        for k, subset in configs.items():
            start = next(chunks)
            rates[k].append(batch_round(subset, threads, texts[start:], f"t{k}-{r}"))
    analyze(url)  # the batches grew the tables 20-fold
    singles = texts[-2 * args.single :]
    latencies: dict[int, list[float]] = {k: [] for k in configs}
    for block in range(0, args.single, 10):
        for i, (k, subset) in enumerate(configs.items()):
            chunk = singles[2 * block + 10 * i : 2 * block + 10 * (i + 1)]
            latencies[k] += single_ms(subset, chunk, f"u{k}-{block}")
    p50 = {k: statistics.median(ms) for k, ms in latencies.items()}
    base = statistics.median(rates[1])
    rows = []
    for k in configs:
        rate = statistics.median(rates[k])
        rows.append(
            f"| {k} | {args.warmup} reviewed | {threads} × {BATCHES_PER_CLIENT} × {BATCH} "
            f"| {rate:,.0f} items/s "
            f"({', '.join(f'{x:,.0f}' for x in rates[k])}) | {rate / base:.2f}× "
            f"| {p50[k]:.1f} ms |"
        )
    return rows


def run(url: str, args: argparse.Namespace) -> None:
    data = banking77_rows(shuffle_seed=0)
    labels = sorted({label for _, label in data})
    token, process_id = prepare_process(url, labels, name="multiproc", mode=Mode.ASSIST)
    with servers(url, token, process_id, args.servers) as apis:
        warm = data[: args.warmup]
        warm_up(apis[0].client, url, process_id, warm)
        for i, api in enumerate(apis):  # each server loads the retrained agent before timing
            api.post(f"prime{i}", data[args.warmup + i][0])
        apis[0].drain()
        analyze(url)
        seen = {normalise(text) for text, _ in warm}
        texts = distinct_texts(data[args.warmup + args.servers :], 3 * args.corrections, seen)
        corrections = correction_rows(apis, texts, args)
        print(
            "| correction → near-duplicate | agent | runs | p50 | p95 | evidence at first try "
            "| label at first try | evidence later | never |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(corrections), flush=True)
        print()
        needed = 2 * args.rounds * args.servers * BATCHES_PER_CLIENT * BATCH + 2 * args.single
        fresh = [row for row in data[args.warmup :] if normalise(row[0]) not in seen]
        pool = [fresh[i % len(fresh)][0] for i in range(needed)]
        print(
            "| servers | agent | clients × batches × items | batch ingest+decide (rounds) | vs 1 "
            "| single p50 |"
        )
        print("|---|---|---|---|---|---|")
        print("\n".join(throughput_rows(apis, pool, args, url)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=DEFAULT_URL, help="PostgreSQL URL (throwaway schema)")
    parser.add_argument("--servers", type=int, default=2, help="deshi serve processes")
    parser.add_argument("--corrections", type=int, default=50, help="corrections to time")
    parser.add_argument(
        "--reviewers", type=int, help="concurrent reviewers (default: 2 per server)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="batch rounds per configuration")
    parser.add_argument("--single", type=int, default=100, help="single-item POSTs per config")
    parser.add_argument("--warmup", type=int, default=300, help="items reviewed before timing")
    args = parser.parse_args()
    if args.servers < 2:
        parser.error("--servers must be at least 2")
    args.reviewers = args.reviewers or 2 * args.servers
    print(machine())
    print()
    with postgres_schema(args.postgres, "deshi_multiproc") as url:
        run(url, args)


if __name__ == "__main__":
    main()
