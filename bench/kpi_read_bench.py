"""KPI reads as a process grows (issue #23, point 3): the KPI report, the dashboard, the weekly
report and `GET /processes/{id}/kpis`, timed in-process on a generated fixture.

The fixture is generated, not a replay: `--items` live items (default 100,000) spread over
`--weeks` ISO weeks ending last week, in the three arms of a process on autopilot (human-only
review, assisted review, AI-led auto / audit / review), each with its decision and, once a human
answered, its reviews (an escalation first on some), plus imported history handling times and
one promoted model a week. Numbers are drawn from a seeded RNG, so every run builds the same
data.

Each request kind is timed two ways, `--runs` times each, and the medians printed:

- **after a change**: a new review is stored first (one queued item of the newest week is
  answered), so whatever the server keeps must be rebuilt: the first view after a change;
- **repeated**: the same view again, nothing changed.

With `--inline-seconds S` the app is built as `deshi serve` builds it with
`DESHI_KPI_INLINE_SECONDS=S`: a view of changed data whose last computation took S seconds or
more is answered from the stored result (marked `as_of`) while a thread recomputes it
(`deshi.kpis.refresh`). Each run then also times the **refresh**: from the change's first view
until a view (polled every 50 ms) shows the change; and the p95 of the views after a change is
printed beside the median.

`--postgres URL` runs the same on a throwaway schema of that database too. Run it on another
checkout's code with `PYTHONPATH=<checkout>/src` (the "before" figures of docs/benchmarks.md).
`--reuse DIR` keeps the SQLite fixture in DIR (kpi.db and its kpi.json) and reuses it on the next
run with the same `--items` and `--weeks` (built the same day: its weeks end last week), so a
profile or a before/after pair reads the same rows without building them again; each run
answers a few more of its queued items.

    nice -n 10 .venv/bin/python bench/kpi_read_bench.py [--items 100000] [--runs 7]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--no-sqlite]
        [--reuse DIR] [--inline-seconds 0.25]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import machine, postgres_schema

from deshi.auth.service import create_user, grant_role, issue_api_token
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import Decision, Item, KpiSnapshot, ModelVersion, Review
from deshi.domain import ItemStatus, Mode, ModelStatus, ReviewAction, Role
from deshi.engine.types import Route
from deshi.kpis.kpi_report import kpi_report
from deshi.kpis.records import iso_week
from deshi.processes.service import create_department, create_process
from deshi.settings import Settings
from deshi.web import create_app
from deshi.web.config import ApiConfig

EMAIL, PASSWORD = "kpi-owner@example.com", "kpi-bench-password-1"
LABELS = [f"label_{index:02d}" for index in range(20)]
REVIEWERS = 6
FIELD_RE = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]*)"')
BATCH = 2000


@dataclass(frozen=True, slots=True)
class Fixture:
    """The generated workspace: its database, process and the owner's API token."""

    url: str
    process_id: int
    token: str
    reviewer_ids: tuple[int, ...]
    weeks: tuple[str, ...]


def _first_monday(weeks: int) -> datetime:
    today = datetime.now(UTC).date()
    this_monday = today - timedelta(days=today.weekday())
    start = this_monday - timedelta(weeks=weeks)
    return datetime.combine(start, datetime.min.time(), tzinfo=UTC)


def _people(session: Session, department_id: int) -> tuple[str, tuple[int, ...], int]:
    owner = create_user(
        session, actor="bench", email=EMAIL, display_name="Owner", password=PASSWORD
    )
    grant_role(
        session, actor="bench", user_id=owner.id, role=Role.OWNER, department_id=department_id
    )
    token = issue_api_token(session, actor="bench", user_id=owner.id, name="kpi").plaintext
    reviewers = []
    for index in range(REVIEWERS):
        user = create_user(
            session, actor="bench", email=f"r{index}@example.com", display_name=f"Reviewer {index}"
        )
        reviewers.append(user.id)
    return token, tuple(reviewers), owner.id


def _item_row(rng: random.Random, process_id: int, at: datetime, newest: bool) -> dict[str, Any]:
    draw = rng.random()
    arm = "human_only" if draw < 0.1 else "assisted" if draw < 0.4 else "ai_led"
    if arm != "ai_led":
        route = "review"
    else:
        draw = rng.random()
        route = "auto" if draw < 0.7 else "audit" if draw < 0.75 else "review"
    truth = rng.choice(LABELS)
    right = rng.random() < (0.995 if route in ("auto", "audit") else 0.85)
    agent = truth if right else rng.choice([label for label in LABELS if label != truth])
    confidence = min(0.999, max(0.05, rng.gauss(0.93 if right else 0.6, 0.08)))
    waiting = route != "auto" and newest and rng.random() < 0.15
    done = (
        None if waiting else at + timedelta(minutes=0 if route == "auto" else rng.randint(5, 600))
    )
    status = (
        ItemStatus.AUTO_COMPLETED
        if route == "auto"
        else (ItemStatus.QUEUED if waiting else ItemStatus.COMPLETED)
    )
    return {
        "item": {
            "process_id": process_id,
            "text": f"item about {truth}",
            "arm": arm,
            "status": status,
            "created_at": at,
            "completed_at": done,
        },
        "decision": {
            "label": agent,
            "confidence": confidence,
            "route": Route(route),
            "created_at": at,
        },
        "truth": truth,
        "answered": done is not None and route != "auto",
        "done": done,
        "blind": route == "audit" or arm == "human_only",
        "seconds": rng.lognormvariate(4.4 if arm == "human_only" else 3.9, 0.5),
    }


def _review_rows(
    rng: random.Random, row: dict[str, Any], item_id: int, reviewers: tuple[int, ...]
) -> list[dict[str, Any]]:
    if not row["answered"]:
        return []
    reviewer = rng.choice(reviewers)
    agent, truth = row["decision"]["label"], row["truth"]
    action = ReviewAction.ACCEPT if agent == truth and not row["blind"] else ReviewAction.CORRECT
    final = {
        "item_id": item_id,
        "reviewer_id": reviewer,
        "action": action,
        "final_label": truth,
        "seconds": row["seconds"],
        "blind": row["blind"],
        "created_at": row["done"],
    }
    if rng.random() < 0.03:
        escalation = final | {
            "action": ReviewAction.ESCALATE,
            "final_label": None,
            "seconds": 20.0,
            "created_at": row["done"] - timedelta(minutes=3),
        }
        return [escalation, final]
    return [final]


def _insert_items(
    session: Session,
    process_id: int,
    rows: list[dict[str, Any]],
    rng: random.Random,
    reviewers: tuple[int, ...],
) -> None:
    ids = session.scalars(
        insert(Item).returning(Item.id, sort_by_parameter_order=True), [r["item"] for r in rows]
    ).all()
    session.execute(
        insert(Decision), [r["decision"] | {"item_id": i} for r, i in zip(rows, ids, strict=True)]
    )
    reviews = [
        review
        for r, i in zip(rows, ids, strict=True)
        for review in _review_rows(rng, r, i, reviewers)
    ]
    if reviews:
        session.execute(insert(Review), reviews)


def _history(session: Session, process_id: int, rng: random.Random, before: datetime) -> None:
    rows = [
        {
            "process_id": process_id,
            "text": "history",
            "origin": "history",
            "status": ItemStatus.COMPLETED,
            "history_label": rng.choice(LABELS),
            "handling_seconds": rng.lognormvariate(4.4, 0.5),
            "created_at": before - timedelta(days=30),
            "completed_at": before - timedelta(days=30),
        }
        for _ in range(2000)
    ]
    session.execute(insert(Item), rows)


def _promotions(session: Session, process_id: int, first: datetime, weeks: int) -> None:
    for index in range(weeks):
        promoted = first + timedelta(weeks=index, days=2)
        session.add(
            ModelVersion(
                process_id=process_id,
                version=index + 1,
                artifact=b"",
                status=ModelStatus.CHAMPION if index == weeks - 1 else ModelStatus.RETIRED,
                metrics={"holdout": 400, "challenger_correct": 300 + 5 * index},
                trained_on=2000 * (index + 1),
                created_at=promoted,
                promoted_at=promoted,
            )
        )


def build_fixture(url: str, *, items: int, weeks: int, seed: int = 0) -> Fixture:
    """A process on autopilot with `items` live items over `weeks` weeks ending last week."""
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    rng = random.Random(seed)
    first = _first_monday(weeks)
    span = timedelta(weeks=weeks).total_seconds()
    with transaction(factory) as session:
        department = create_department(session, actor="bench", name="KPI bench")
        token, reviewers, owner_id = _people(session, department.id)
        process = create_process(
            session, actor="bench", department_id=department.id, name="routing", labels=LABELS
        )
        process.mode, process.owner_user_id = Mode.AUTOPILOT, owner_id
        process.hourly_rate, process.cost_per_escaped_error = 40.0, 25.0
        process.running_cost_per_week, process.currency = 200.0, "USD"
        process.created_at = first - timedelta(days=1)
        process_id = process.id
        _history(session, process_id, rng, first)
        _promotions(session, process_id, first, weeks)
    moments = sorted(first + timedelta(seconds=rng.random() * span) for _ in range(items))
    newest = iso_week(moments[-1]) if moments else ""
    for start in range(0, items, BATCH):
        with transaction(factory) as session:
            rows = [
                _item_row(rng, process_id, at, iso_week(at) == newest)
                for at in moments[start : start + BATCH]
            ]
            _insert_items(session, process_id, rows, rng, reviewers)
    engine.dispose()
    keys = tuple(sorted({iso_week(at) for at in moments}))
    return Fixture(url, process_id, token, reviewers, keys)


def reused_fixture(folder: Path, *, items: int, weeks: int) -> Fixture:
    """The SQLite fixture kept in `folder` when it was built with these sizes (and today's
    weeks), else a new one built there and kept."""
    database, described = folder / "kpi.db", folder / "kpi.json"
    sizes = {"items": items, "weeks": weeks, "first_monday": _first_monday(weeks).isoformat()}
    if database.exists() and described.exists():
        kept = json.loads(described.read_text())
        if kept["sizes"] == sizes:
            fields = kept["fixture"]
            return Fixture(
                fields["url"],
                fields["process_id"],
                fields["token"],
                tuple(fields["reviewer_ids"]),
                tuple(fields["weeks"]),
            )
    folder.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    fixture = build_fixture(f"sqlite:///{database}", items=items, weeks=weeks)
    described.write_text(json.dumps({"sizes": sizes, "fixture": asdict(fixture)}))
    return fixture


def answer_one(factory: Any, fixture: Fixture) -> bool:
    """Store a review on one queued item (a change every cache must notice); False when none
    is left."""
    with transaction(factory) as session:
        query = (
            select(Item)
            .where(Item.process_id == fixture.process_id, Item.status == ItemStatus.QUEUED)
            .limit(1)
        )
        item = session.scalars(query).first()
        if item is None:
            return False
        decision = session.scalars(select(Decision).where(Decision.item_id == item.id)).first()
        now = datetime.now(UTC)
        label = decision.label if decision is not None else LABELS[0]
        session.add(
            Review(
                item_id=item.id,
                reviewer_id=fixture.reviewer_ids[0],
                action=ReviewAction.ACCEPT,
                final_label=label,
                seconds=30.0,
                blind=False,
                created_at=now,
            )
        )
        item.status, item.completed_at = ItemStatus.COMPLETED, now
    return True


def sign_in(client: TestClient) -> None:
    """Sign in through the login form (its CSRF token, then the session cookie)."""
    page = client.get("/login", headers={"Accept": "text/html"})
    found = FIELD_RE.search(page.text)
    if not found:
        raise RuntimeError("no csrf_token field on the login form")
    form = {
        "csrf_token": unescape(found.group(1)),
        "next": "/",
        "email": EMAIL,
        "password": PASSWORD,
    }
    done = client.post("/login", data=form, headers={"Accept": "text/html"}, follow_redirects=False)
    if done.status_code != 303:
        raise RuntimeError(f"login failed: HTTP {done.status_code}")


def timed(call: Callable[[], object]) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000.0


def _get(client: TestClient, path: str, headers: dict[str, str] | None = None) -> str:
    response = client.get(path, headers=headers or {})
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status_code} {response.text[:200]}")
    return response.text


def _current(text: str) -> bool:
    """True when a KPI view (JSON or page) is of the data as it is, not an earlier result
    served while a new one is computed."""
    if text.startswith("{"):
        return json.loads(text).get("as_of") is None
    return 'id="kpis-as-of"' not in text


@contextmanager
def app_client(url: str, inline_seconds: float | None) -> Iterator[TestClient]:
    """The app on `url` in-process, without its background worker; with `inline_seconds`, slow
    KPI reads are refreshed in a thread as `deshi serve` does."""
    app = create_app(
        Settings(database_url=url), config=ApiConfig(kpi_inline_seconds=inline_seconds)
    )
    with TestClient(app) as client:
        yield client


@dataclass(frozen=True, slots=True)
class Timings:
    """Milliseconds of one request kind over the runs."""

    changed: list[float]
    repeated: list[float]
    refreshed: list[float]  # change's first view until a view shows it (with a refresher)


def p95(values: list[float]) -> float:
    """The 95th percentile (inclusive method), the value itself for one run."""
    return (
        statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]
    )


def _until_current(call: Callable[[], str], started: float, limit: float = 600.0) -> float:
    """Milliseconds from `started` until `call` answers with current figures."""
    while not _current(call()):
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"no current view after {limit:.0f} s")
        time.sleep(0.05)
    return (time.perf_counter() - started) * 1000.0


def measure(fixture: Fixture, runs: int, inline_seconds: float | None) -> dict[str, Timings]:
    """Each request kind timed after a change, repeated and (with a refresher) until current."""
    engine = create_db_engine(fixture.url)
    factory = make_session_factory(engine)
    pid, auth = fixture.process_id, {"Authorization": f"Bearer {fixture.token}"}
    closed_week = fixture.weeks[-2] if len(fixture.weeks) > 1 else fixture.weeks[-1]
    results: dict[str, Timings] = {}
    with app_client(fixture.url, inline_seconds) as client:
        refresher = client.app.state.kpi_refresher  # type: ignore[attr-defined]

        def compute() -> str:
            with transaction(factory, lock_early=False) as session:
                from deshi.db.tables import Process

                process = session.get(Process, pid)
                assert process is not None
                return kpi_report(session, process, refresher=refresher).model_dump_json()

        sign_in(client)
        kinds: dict[str, Callable[[], str]] = {
            "KPI report (service)": compute,
            "GET /processes/{id}/kpis": lambda: _get(client, f"/processes/{pid}/kpis", auth),
            "dashboard /ui/processes/{id}": lambda: _get(
                client, f"/ui/processes/{pid}", {"Accept": "text/html"}
            ),
            f"weekly report, closed week {closed_week}": lambda: _get(
                client, f"/processes/{pid}/report?week={closed_week}", auth
            ),
            "weekly report, this week": lambda: _get(
                client, f"/processes/{pid}/report?week={iso_week(datetime.now(UTC))}", auth
            ),
        }
        for name, call in kinds.items():
            call()  # warm imports and templates
            if refresher is not None:
                _until_current(call, time.perf_counter())
            timings = Timings([], [], [])
            for _ in range(runs):
                answer_one(factory, fixture)
                since, started = datetime.now(UTC), time.perf_counter()
                call()
                timings.changed.append((time.perf_counter() - started) * 1000.0)
                if timings.changed[-1] > SLOW_VIEW_MS:
                    _explain_slow(factory, pid, name, timings.changed[-1], since)
                if refresher is not None:
                    timings.refreshed.append(_until_current(call, started))
                timings.repeated.append(timed(call))
            results[name] = timings
            print(f"  {name}: {_summary(timings)}", file=sys.stderr)
    engine.dispose()
    return results


SLOW_VIEW_MS = 300.0  # issue #23's target for a page


def _explain_slow(factory: Any, process_id: int, name: str, ms: float, since: datetime) -> None:
    """Print, for a view slower than the target, the stored KPI results written during it
    (the reads it computed while the viewer waited) and how long each took."""
    with transaction(factory, lock_early=False) as session:
        rows = session.execute(
            select(KpiSnapshot.key, KpiSnapshot.seconds)
            .where(KpiSnapshot.process_id == process_id, KpiSnapshot.computed_at >= since)
            .order_by(KpiSnapshot.computed_at)
        ).all()
    computed = ", ".join(f"{key} {seconds or 0:.3f} s" for key, seconds in rows) or "none"
    print(f"  slow view, {name}: {ms:,.0f} ms; stored meanwhile: {computed}", file=sys.stderr)


def _summary(timings: Timings) -> str:
    line = (
        f"after a change median {statistics.median(timings.changed):,.0f} ms, "
        f"p95 {p95(timings.changed):,.0f}; repeated {statistics.median(timings.repeated):,.0f}"
    )
    if timings.refreshed:
        line += (
            f"; current after {statistics.median(timings.refreshed):,.0f} ms "
            f"(p95 {p95(timings.refreshed):,.0f})"
        )
    return line


def report(backend: str, fixture_items: int, results: dict[str, Timings]) -> None:
    """A markdown table of the medians (and p95s)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{backend}, {fixture_items:,} live items, {machine()}, {date.today()}, "
        f"peak RSS so far {peak:,.0f} MiB\n"
    )
    refreshing = any(timings.refreshed for timings in results.values())
    head = "| request | after a change: median | p95 | repeated: median |"
    if refreshing:
        head += " current after a change: median | p95 |"
    print(head)
    print("|---" * head.count(" |") + "|")
    for name, t in results.items():
        row = (
            f"| {name} | {statistics.median(t.changed):,.0f} | {p95(t.changed):,.0f} "
            f"| {statistics.median(t.repeated):,.0f} |"
        )
        if refreshing:
            row += f" {statistics.median(t.refreshed):,.0f} | {p95(t.refreshed):,.0f} |"
        print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", default=None, help="also on a schema of this database")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--reuse", type=Path, default=None, help="keep the SQLite fixture here")
    parser.add_argument(
        "--inline-seconds",
        type=float,
        default=None,
        help="refresh reads slower than this in a thread, as deshi serve does",
    )
    args = parser.parse_args()
    if not args.no_sqlite and args.reuse is not None:
        started = time.perf_counter()
        fixture = reused_fixture(args.reuse, items=args.items, weeks=args.weeks)
        print(f"sqlite fixture ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        report("SQLite", args.items, measure(fixture, args.runs, args.inline_seconds))
    elif not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/kpi.db"
            started = time.perf_counter()
            fixture = build_fixture(url, items=args.items, weeks=args.weeks)
            print(f"sqlite fixture built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            report("SQLite", args.items, measure(fixture, args.runs, args.inline_seconds))
    if args.postgres:
        with postgres_schema(args.postgres, "kpibench") as url:
            started = time.perf_counter()
            fixture = build_fixture(url, items=args.items, weeks=args.weeks)
            print(
                f"postgres fixture built in {time.perf_counter() - started:.0f} s", file=sys.stderr
            )
            report("PostgreSQL", args.items, measure(fixture, args.runs, args.inline_seconds))


if __name__ == "__main__":
    main()
