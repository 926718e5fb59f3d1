"""The go-live check: what the agent would have done on the most recent slice of the history.

Before an owner switches a process to autopilot, the dashboard shows the automation and the error
autopilot would have had. The history items are ordered by time; the most recent fifth
(`SLICE_SHARE`, at most `MAX_SLICE` items) is the slice, the rest trains a fresh agent exactly as
the warm start does (every item taken in as reviewed, one retrain that certifies the threshold
cross-fitted at the process's ε and δ). Then every slice item is decided by that agent, which
never saw it: the figures are honest out-of-sample numbers. The agent does not learn along the
slice, so they are day-one figures; `deshi backtest SLICE --history REST` (which learns from
the items it sends to review) can only do as well or better. As in the backtest, automation is
the share routed `auto` (audit samples go to people) and the error is the share of those whose
label differs from the human's.

It is a retrain (seconds of CPU), so it runs as a background job (`GOLIVE_JOB`) whose result is
stored in `golive_checks`; the dashboard reads the latest row. A check is queued when a history
import finishes and on request (`POST /processes/{id}/go-live`); `deshi process go-live`
runs one at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import GoLiveCheck, Item, Process
from deshi.domain import ItemOrigin
from deshi.engine import Agent, AgentConfig, Observation, Route
from deshi.engine.metrics import proportion_exact, proportion_wilson
from deshi.engine.stats import clopper_pearson_upper
from deshi.history.models import GoLiveFigures, GoLivePublic, GoLiveStatus
from deshi.i18n import format_percent
from deshi.jobs.queue import enqueue
from deshi.jobs.worker import Handler, JobRun
from deshi.learning.registry import config_for
from deshi.learning.rules import Rule, first_match, parse_rules
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process, get_process_for

__all__ = [
    "GOLIVE_JOB",
    "MAX_SLICE",
    "MIN_SLICE",
    "MIN_TRAIN",
    "SLICE_SHARE",
    "HistoryCase",
    "ReplayCounts",
    "Verdict",
    "golive_figures",
    "golive_handler",
    "latest_golive",
    "latest_golive_for",
    "replay_recent_slice",
    "request_golive",
    "request_golive_for",
    "run_golive",
    "slice_size",
    "verdict",
]

GOLIVE_JOB = "history.golive"
SLICE_SHARE = 0.2  # the most recent fifth: recent enough to look like tomorrow, big enough to count
MAX_SLICE = 2000  # beyond this the interval barely narrows, and deciding more costs time
MIN_SLICE = 20  # fewer replayed items say next to nothing about an error rate of a few percent
MIN_TRAIN = 40  # the retrain needs a few items per label in every fold to certify anything
TRAINING_THREADS = 1  # a background check must leave the other core to the live requests
DECIDE_BATCH = 256  # slice items decided per call (bounded memory on a large slice)

Status = GoLiveStatus


@dataclass(frozen=True, slots=True)
class HistoryCase:
    """One history item as the replay sees it."""

    case_id: str
    text: str
    label: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReplayCounts:
    """What the replay counted on the slice."""

    trained_on: int
    items: int
    auto: int
    auto_errors: int
    threshold: float | None
    seconds: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """The check's verdict as a code, its English sentence and the sentence's numbers (the
    UI translates it through deshi.kpis.explain)."""

    code: str
    message: str
    params: dict[str, str | int | float]


def slice_size(history: int) -> int:
    """How many of `history` time-ordered items are replayed (0: too little history)."""
    size = min(MAX_SLICE, round(history * SLICE_SHARE))
    if size < MIN_SLICE or history - size < MIN_TRAIN:
        return 0
    return size


def replay_recent_slice(
    cases: Sequence[HistoryCase],
    *,
    config: AgentConfig,
    rules: Sequence[Rule] = (),
    clock: Callable[[], float] = time.perf_counter,
) -> ReplayCounts | None:
    """Train on all but the most recent slice of the time-ordered `cases`, then decide the slice
    with that agent; None when there is too little history (see `slice_size`)."""
    size = slice_size(len(cases))
    if size == 0:
        return None
    started = clock()
    train, recent = cases[: len(cases) - size], cases[len(cases) - size :]
    agent = Agent(config)
    for case in train:
        agent.record(
            Observation(
                case_id=case.case_id,
                text=case.text,
                route=Route.REVIEW,
                label=case.label,
                audit_rate=1.0,  # a person labelled every history item
            )
        )
    report = agent.retrain()
    auto = auto_errors = 0
    always_human = list(rules)
    for batch in _batches(recent, DECIDE_BATCH):
        matched = [first_match(always_human, c.text, c.fields) for c in batch]
        decisions = agent.decide_many(
            [c.text for c in batch], [c.case_id for c in batch], rules=matched
        )
        for case, decision in zip(batch, decisions, strict=True):
            if decision.route is Route.AUTO:
                auto += 1
                auto_errors += decision.label != case.label
    return ReplayCounts(
        trained_on=len(train),
        items=size,
        auto=auto,
        auto_errors=auto_errors,
        threshold=report.threshold,
        seconds=round(clock() - started, 3),
    )


def _batches(cases: Sequence[HistoryCase], size: int) -> Iterator[Sequence[HistoryCase]]:
    for start in range(0, len(cases), size):
        yield cases[start : start + size]


def golive_figures(counts: ReplayCounts, *, confidence: float) -> GoLiveFigures:
    """The counts as shares with their intervals at `confidence` (1 − δ)."""
    automation = proportion_wilson(counts.auto, counts.items, confidence=confidence)
    assert automation is not None  # a replay always has items
    error = proportion_exact(counts.auto_errors, counts.auto, confidence=confidence)
    upper = (
        clopper_pearson_upper(counts.auto_errors, counts.auto, 1.0 - confidence)
        if counts.auto
        else None
    )
    return GoLiveFigures(
        trained_on=counts.trained_on,
        items=counts.items,
        auto=counts.auto,
        auto_errors=counts.auto_errors,
        automation=automation.value,
        automation_low=automation.low,
        automation_high=automation.high,
        error=error.value if error else None,
        error_low=error.low if error else None,
        error_high=error.high if error else None,
        error_upper=upper,
        threshold=counts.threshold,
        seconds=counts.seconds,
    )


def verdict(figures: GoLiveFigures | None, *, error_budget: float, history_items: int) -> Verdict:
    """Whether the error budget would have held on the slice, as a sentence with its numbers.

    holds: the one-sided upper bound on the error is within ε; uncertain: the estimate is
    within ε but the bound is not (too few items to be sure); breaks: the estimate exceeds ε."""
    if figures is None:
        needed = MIN_SLICE + MIN_TRAIN
        params: dict[str, str | int | float] = {"history": history_items, "needed": needed}
        message = (
            f"Too little history for a go-live check: {history_items} item(s), "
            f"at least {needed} needed."
        )
        return Verdict("golive_too_little_history", message, params)
    budget = _pct(error_budget, 2)
    if figures.auto == 0 or figures.error is None:
        params = {"items": figures.items, "budget": error_budget}
        message = (
            f"Would auto-complete none of the last {figures.items} history items: no threshold "
            f"keeps the error within the {budget} budget on the older history."
        )
        return Verdict("golive_nothing_automated", message, params)
    params = {
        "items": figures.items,
        "automation": figures.automation,
        "automation_low": figures.automation_low,
        "automation_high": figures.automation_high,
        "error": figures.error,
        "error_low": figures.error_low or 0.0,
        "error_high": figures.error_high or 0.0,
        "error_upper": figures.error_upper or 0.0,
        "budget": error_budget,
    }
    would = (
        f"Would auto-complete {_pct(figures.automation, 1)} "
        f"({_pct(figures.automation_low, 1)}–{_pct(figures.automation_high, 1)}) of the last "
        f"{figures.items} history items with {_pct(figures.error, 1)} "
        f"({_pct(params['error_low'], 1)}–{_pct(params['error_high'], 1)}) wrong"
    )
    upper = _pct(params["error_upper"], 1)
    if (figures.error_upper or 0.0) <= error_budget:
        message = f"{would}: within the {budget} budget (upper bound {upper})."
        return Verdict("golive_holds", message, params)
    if figures.error <= error_budget:
        message = (
            f"{would}: within the {budget} budget on the estimate, but too few items to be "
            f"sure (upper bound {upper})."
        )
        return Verdict("golive_uncertain", message, params)
    message = f"{would}: the {budget} budget would not hold."
    return Verdict("golive_breaks", message, params)


def _pct(value: float | str | int, digits: int) -> str:
    """A share as the English sentence shows it (deshi.kpis.explain formats it alike)."""
    return format_percent(float(value), locale="en", digits=digits)


# --- the database side -----------------------------------------------------------------------


def _history_count(session: Session, process_id: int) -> int:
    query = select(func.count()).where(
        Item.process_id == process_id, Item.origin == ItemOrigin.HISTORY.value
    )
    return int(session.scalar(query) or 0)


def _history_cases(session: Session, process_id: int) -> list[HistoryCase]:
    """The process's history items, oldest first (ties by id: the import order)."""
    query = (
        select(Item.id, Item.text, Item.history_label, Item.fields)
        .where(
            Item.process_id == process_id,
            Item.origin == ItemOrigin.HISTORY.value,
            Item.history_label.is_not(None),
        )
        .order_by(Item.created_at, Item.id)
    )
    return [
        HistoryCase(str(row.id), row.text, str(row.history_label), dict(row.fields or {}))
        for row in session.execute(query)
    ]


def _latest(session: Session, process_id: int) -> GoLiveCheck | None:
    query = (
        select(GoLiveCheck)
        .where(GoLiveCheck.process_id == process_id)
        .order_by(GoLiveCheck.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _queue_check(session: Session, process: Process, actor: str) -> GoLiveCheck:
    check = GoLiveCheck(
        process_id=process.id,
        status="queued",
        requested_by=actor[:200],
        error_budget=process.error_budget,
        confidence=process.confidence,
        result={},
    )
    session.add(check)
    session.flush()
    return check


def request_golive(session: Session, *, process: Process, actor: str) -> GoLivePublic:
    """Queue a go-live check for the worker, in the caller's transaction; a check already
    queued is returned instead of a second one."""
    latest = _latest(session, process.id)
    if latest is None or latest.status != "queued":
        latest = _queue_check(session, process, actor)
        enqueue(
            session,
            kind=GOLIVE_JOB,
            payload={"check_id": latest.id},
            dedupe_key=f"golive:{process.id}",
        )
    return _public(session, process, latest)


def request_golive_for(session: Session, *, principal: Principal, process_id: int) -> GoLivePublic:
    """`request_golive` for a caller who manages the process (owners and admins)."""
    process = get_process_for(session, principal, process_id, Action.MANAGE_PROCESS)
    return request_golive(session, process=process, actor=principal.actor)


def latest_golive(session: Session, process: Process) -> GoLivePublic:
    """The latest go-live check of the process (status "none" when it never ran)."""
    return _public(session, process, _latest(session, process.id))


def latest_golive_for(session: Session, *, principal: Principal, process_id: int) -> GoLivePublic:
    """`latest_golive` for a caller who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return latest_golive(session, process)


def _public(session: Session, process: Process, check: GoLiveCheck | None) -> GoLivePublic:
    history = _history_count(session, process.id)
    if check is None:
        return GoLivePublic(
            process_id=process.id,
            status="none",
            error_budget=process.error_budget,
            confidence=process.confidence,
            history_items=history,
        )
    public = GoLivePublic(
        process_id=process.id,
        status=_status(check.status),
        check_id=check.id,
        requested_by=check.requested_by,
        requested_at=check.created_at,
        finished_at=check.finished_at,
        error_budget=check.error_budget,
        confidence=check.confidence,
        history_items=history,
        error=check.error,
    )
    if check.status != "done":
        return public
    figures_json = check.result.get("figures")
    figures = GoLiveFigures.model_validate(figures_json) if figures_json else None
    said = verdict(
        figures,
        error_budget=check.error_budget,
        history_items=int(check.result.get("history_items", 0)),
    )
    policy_moved = (check.error_budget, check.confidence) != (
        process.error_budget,
        process.confidence,
    )
    return public.model_copy(
        update={
            "figures": figures,
            "verdict": said.code.removeprefix("golive_"),
            "message": said.message,
            "params": said.params,
            "stale": policy_moved or history != check.result.get("history_items"),
        }
    )


def _status(value: str) -> Status:
    statuses: tuple[Status, ...] = ("queued", "done", "failed")
    return next((s for s in statuses if s == value), "failed")


Reading = Callable[[], AbstractContextManager[Session]]


def _run_check(check_id: int, *, reading: Reading, finishing: Reading) -> None:
    """Replay the history of the check's process and store the figures on the check (or why
    it failed). Reads in one short transaction, trains with none open, writes in `finishing`."""
    with reading() as session:
        check = session.get(GoLiveCheck, check_id)
        if check is None or check.status != "queued":
            return  # done by another run already
        process = session.get_one(Process, check.process_id)
        policy = process.policy
        config = config_for(process, training_threads=TRAINING_THREADS)
        rules = parse_rules(process.always_human_rules)
        cases = _history_cases(session, process.id)
    error: str | None = None
    result: dict[str, Any] = {"history_items": len(cases)}
    try:
        counts = replay_recent_slice(cases, config=config, rules=rules)
        if counts is not None:
            figures = golive_figures(counts, confidence=policy.confidence)
            result["figures"] = figures.model_dump(mode="json")
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    with finishing() as session:
        stored = session.get_one(GoLiveCheck, check_id)
        stored.status = "failed" if error else "done"
        stored.error = error
        stored.result = result
        stored.error_budget, stored.confidence = policy.error_budget, policy.confidence
        stored.finished_at = utcnow()


def golive_handler() -> Handler:
    """The worker's handler of `GOLIVE_JOB`: run the check its payload names."""

    def handle(run: JobRun) -> None:
        _run_check(int(run.job.payload["check_id"]), reading=run.reading, finishing=run.finishing)

    return handle


def run_golive(factory: sessionmaker[Session], *, process_id: int, actor: str) -> GoLivePublic:
    """Run a go-live check now (the operator's CLI) and return it as stored."""
    with transaction(factory) as session:
        process = get_process(session, process_id)
        check = _queue_check(session, process, actor)
        check_id = check.id
    _run_check(
        check_id,
        reading=partial(transaction, factory, lock_early=False),
        finishing=partial(transaction, factory),
    )
    with transaction(factory, lock_early=False) as session:
        process = get_process(session, process_id)
        return _public(session, process, session.get_one(GoLiveCheck, check_id))
