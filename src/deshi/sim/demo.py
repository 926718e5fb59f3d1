"""`deshi demo`: a workspace with twelve weeks of simulated history, made by the real services.

The bundled BANKING77 data (shuffled by the seed) arrives week by week into the process "Card
and account inquiries" (autopilot, ε = 0.01, δ = 0.05, 5 % audits, arms human-only 10 % /
assisted 20 % / AI-led 70 %). Every step goes through the code the API runs: items are
ingested with `deshi.items.service.ingest_items`, simulated reviewers claim and answer the
queue with `deshi.reviews.service.claim_next` / `submit_review` (which take the simulated
time as their clock), and the model is retrained between weeks with
`deshi.learning.service.retrain`.

The ingest service stamps the current time, so right after each ingest the demo moves the new
items' `created_at` (and `completed_at` of auto-completed ones) and their decisions'
`created_at` to the simulated arrival time; model versions are moved to the simulated time
they were trained at. The audit log is never rewritten: its hashed timestamps record when the
demo really ran. The last `keep_open` queued items of the final week are left for a newcomer.

Speed: each visit of the reviewers is one transaction; while the demo builds, its database
commits without waiting for the disk and the query planner has statistics of the tables, and
the finished file is made durable and left without them (`deshi.sim.demo_workspace`).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.base import utcnow
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import Decision, Item, ModelVersion
from deshi.domain import ItemStatus, ReviewAction
from deshi.engine import DEFAULT_POLICY
from deshi.errors import Conflict, ValidationFailed
from deshi.history.reader import HistoryRow
from deshi.history.service import import_history
from deshi.items.models import ItemCreate, ItemPublic
from deshi.items.service import IngestLimits, ingest_items
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import retrain
from deshi.permissions import Principal
from deshi.reviews.models import ReviewCreate
from deshi.reviews.service import claim_next, submit_review
from deshi.sim.dataset import LabelledItem, load_bundled
from deshi.sim.demo_summary import summarize
from deshi.sim.demo_timing import DemoWeek, arrival_times, demo_weeks, handling_seconds, review_time
from deshi.sim.demo_workspace import (
    DemoPeople,
    make_durable,
    mark_completed,
    prepare_workspace,
    refresh_statistics,
    relax_durability,
    set_up_organisation,
    store_demo_knowledge,
)

__all__ = ["DemoConfig", "DemoResult", "Progress", "run_demo"]

Progress = Callable[[int, int, str], None]  # items done, items in all, what is happening
REVIEWER_SHARES = (0.55, 0.45)
LEASE_SECONDS = 3600  # longer than the longest simulated handling time


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """What to simulate and where."""

    workspace: Path
    weeks: int = 12
    items_per_week: int = 700
    seed: int = 0
    fresh: bool = False
    error_budget: float = DEFAULT_POLICY.error_budget  # ε of the process
    keep_open: int = 30  # queued items of the final week left for a newcomer
    batch_size: int = 20  # items arriving between two visits of the reviewers
    history: int = 4_600  # labelled items of the team's past work, imported before week 1


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Where the demo lives, its login (password shown once) and the summary."""

    database_url: str
    login_email: str
    login_password: str
    process_id: int
    summary: dict[str, Any]


def run_demo(
    config: DemoConfig, *, progress: Progress | None = None, now: datetime | None = None
) -> DemoResult:
    """Create the workspace, simulate `config.weeks` weeks ending in the week of `now`, and
    summarize them; WorkspaceExistsError when the workspace must not be overwritten."""
    started_clock = time.perf_counter()
    started = now or utcnow()
    weeks = demo_weeks(config.weeks, started)
    items, past = _items(config)
    db_path = prepare_workspace(config.workspace, fresh=config.fresh)
    url = f"sqlite:///{db_path}"
    engine = create_db_engine(url)
    relax_durability(engine)  # for the simulation only: made durable before it is marked done
    try:
        upgrade_to_head(engine)
        factory = make_session_factory(engine)
        with transaction(factory) as session:
            labels = sorted({item.label for item in [*items, *past]})
            people = set_up_organisation(
                session, labels=labels, since=weeks[0].start, error_budget=config.error_budget
            )
            store_demo_knowledge(
                session, actor=people.owner.actor, department_id=people.department_id
            )
        registry = AgentRegistry()
        if past:
            _import_history(
                factory, registry, people, past, before=weeks[0].start, progress=progress
            )
        simulation = _Simulation(factory, registry, people, config, started, progress)
        simulation.run(weeks, items)
        summary = summarize(factory, process_id=people.process_id, now=started)
    finally:
        engine.dispose()
    make_durable(db_path)
    mark_completed(config.workspace, utcnow())
    summary = {
        "workspace": str(config.workspace),
        "database_url": url,
        "login_email": people.login_email,
        "seed": config.seed,
        "weeks": [week.key for week in weeks],
        **summary,
        "simulation_seconds": round(time.perf_counter() - started_clock, 1),
    }
    return DemoResult(url, people.login_email, people.login_password, people.process_id, summary)


def _items(config: DemoConfig) -> tuple[list[LabelledItem], list[LabelledItem]]:
    """The live items (the first weeks × items_per_week of the shuffled bundled data) and the
    team's history (the next `config.history` items): two disjoint slices."""
    if config.items_per_week < 1:
        raise ValueError("--items-per-week must be at least 1")
    if config.history < 0:
        raise ValueError("--history must be at least 0")
    dataset = load_bundled("banking77").shuffled(config.seed)
    wanted = config.weeks * config.items_per_week
    if wanted + config.history > len(dataset.items):
        raise ValueError(
            f"{config.weeks} weeks × {config.items_per_week} items and {config.history} items "
            f"of history need {wanted + config.history} items; BANKING77 has "
            f"{len(dataset.items)}"
        )
    return list(dataset.items[:wanted]), list(dataset.items[wanted : wanted + config.history])


def _import_history(
    factory: sessionmaker[Session],
    registry: AgentRegistry,
    people: DemoPeople,
    past: Sequence[LabelledItem],
    *,
    before: datetime,
    progress: Progress | None,
) -> None:
    """Import the team's past work, as an owner would with `deshi import`: it becomes the case
    memory, the first model is trained and its threshold calibrated on it (warm start), and its
    labels are audited; dated over the 8 weeks before the first simulated week."""
    if progress is not None:
        progress(0, len(past), "importing the team's history")
    span = timedelta(weeks=8) / max(len(past), 1)
    rows = [
        HistoryRow(
            row=position + 2,
            text=item.text,
            label=item.label,
            external_id=f"history-{item.case_id}",
            time=before - timedelta(weeks=8) + span * position,
        )
        for position, item in enumerate(past)
    ]
    import_history(
        factory,
        actor=people.owner.actor,
        process_id=people.process_id,
        rows=rows,
        registry=registry,
        source="deshi demo: BANKING77 history",
    )
    with transaction(factory) as session:  # the first model was trained just before week 1
        for column in (ModelVersion.created_at, ModelVersion.promoted_at):
            session.execute(
                update(ModelVersion)
                .where(ModelVersion.process_id == people.process_id, column.is_not(None))
                .values({column.key: before})
            )


@dataclass
class _Simulation:
    """The running demo: the queue as the reviewers see it and the truth behind it."""

    factory: sessionmaker[Session]
    registry: AgentRegistry  # the demo's own: its agents start from this database
    people: DemoPeople
    config: DemoConfig
    started: datetime
    progress: Progress | None
    rng: random.Random = field(init=False)
    truth: dict[int, str] = field(default_factory=dict)
    arrived: dict[int, datetime] = field(default_factory=dict)
    queue: deque[int] = field(default_factory=deque)
    done: int = 0
    total: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.config.seed)

    def run(self, weeks: Sequence[DemoWeek], items: Sequence[LabelledItem]) -> None:
        """Every week: items arrive in batches, reviewers clear the queue; retrain after it."""
        self.total = len(items)
        per_week = self.config.items_per_week
        for index, week in enumerate(weeks):
            final = index == len(weeks) - 1
            with transaction(self.factory) as session:
                refresh_statistics(session)  # the tables grow by a week's items each week
            chunk = items[index * per_week : (index + 1) * per_week]
            self._run_week(week, chunk, keep_open=self.config.keep_open if final else 0)
            if not final:
                self._retrain(at=week.end)

    def _run_week(self, week: DemoWeek, items: Sequence[LabelledItem], *, keep_open: int) -> None:
        times = arrival_times(week, len(items), self.rng)
        size = self.config.batch_size
        for start in range(0, len(items), size):
            self._ingest(items[start : start + size], times[start : start + size])
            self._review_queue(keep_open=keep_open)
            self.done += len(items[start : start + size])
            self._report(f"week {week.key}")

    def _report(self, what: str) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total, what)

    def _ingest(self, items: Sequence[LabelledItem], times: Sequence[datetime]) -> None:
        """Ingest a batch as the owner's integration would, then move it to its arrival times."""
        stored = ingest_items(
            self.factory,
            principal=self.people.owner,
            process_id=self.people.process_id,
            items=[ItemCreate(external_id=item.case_id, text=item.text) for item in items],
            limits=IngestLimits(),
            batch=True,
            registry=self.registry,
        )
        for public, item, arrived in zip(stored, items, times, strict=True):
            self.truth[public.id] = item.label
            self.arrived[public.id] = arrived
            if public.status is ItemStatus.QUEUED:
                self.queue.append(public.id)
        with transaction(self.factory) as session:
            _backdate_items(session, stored, times)

    def _review_queue(self, *, keep_open: int) -> None:
        """Answer queued items oldest first until only `keep_open` are left.

        One visit of the reviewers is one transaction: the services take the caller's session,
        each answer reaches the agent at once as before, and the visit commits once instead of
        once per answer (if it fails, the registry drops the agent it changed and nothing of the
        visit is stored)."""
        if len(self.queue) <= keep_open:
            return
        with transaction(self.factory) as session:
            latest: datetime | None = None
            while len(self.queue) > keep_open:
                item_id = self.queue.popleft()
                reviewer = self.rng.choices(self.people.reviewers, weights=REVIEWER_SHARES)[0]
                answered = self._review(session, reviewer, item_id)
                latest = answered if latest is None else max(latest, answered)
            if latest is not None:  # the first labels may have bootstrapped a model
                self._stamp_new_versions(session, latest)

    def _review(self, session: Session, reviewer: Principal, item_id: int) -> datetime:
        """One reviewer claims the next item and answers it from the true label; returns when."""
        truth = self.truth[item_id]
        pid = self.people.process_id
        at = review_time(self.arrived[item_id], self.started, self.rng)
        claimed = claim_next(  # the reviewers never hold a lease between two answers
            session,
            principal=reviewer,
            process_id=pid,
            lease_seconds=LEASE_SECONDS,
            resume_held=False,
            now=at,
        )
        if claimed is None or claimed.id != item_id:
            raise RuntimeError(f"demo queue out of step: expected item {item_id}, got {claimed}")
        suggested = None if claimed.suggestion is None else claimed.suggestion.label
        if claimed.blind or suggested is None:
            situation, action = "blind", ReviewAction.ACCEPT
        elif suggested == truth:
            situation, action = "accept", ReviewAction.ACCEPT
        else:
            situation, action = "correct", ReviewAction.CORRECT
        seconds = handling_seconds(situation, self.rng)
        answered = at + timedelta(seconds=seconds)
        answer = ReviewCreate(action=action, label=truth, seconds=seconds)
        submit_review(
            session,
            principal=reviewer,
            item_id=item_id,
            answer=answer,
            registry=self.registry,
            now=answered,
        )
        return answered

    def _retrain(self, *, at: datetime) -> None:
        """Retrain between weeks, as the worker would; nothing to learn from yet is no error."""
        self._report("retraining")
        try:
            retrain(self.factory, process_id=self.people.process_id, registry=self.registry)
        except (ValidationFailed, Conflict):
            return
        with transaction(self.factory) as session:
            self._stamp_new_versions(session, at)

    def _stamp_new_versions(self, session: Session, at: datetime) -> None:
        """Move model versions trained during this run to the simulated time `at`."""
        for column in (ModelVersion.created_at, ModelVersion.promoted_at):
            session.execute(
                update(ModelVersion)
                .where(ModelVersion.process_id == self.people.process_id, column >= self.started)
                .values({column.key: at})
            )


def _backdate_items(
    session: Session, stored: Sequence[ItemPublic], times: Sequence[datetime]
) -> None:
    """Give freshly ingested items and their decisions their simulated arrival time."""
    items, decisions = [], []
    for public, arrived in zip(stored, times, strict=True):
        done = arrived if public.status is ItemStatus.AUTO_COMPLETED else None
        items.append({"id": public.id, "created_at": arrived, "completed_at": done})
        if public.decision is not None:
            decisions.append({"id": public.decision.id, "created_at": arrived})
    session.execute(update(Item), items)
    if decisions:
        session.execute(update(Decision), decisions)
