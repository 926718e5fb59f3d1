"""What every KPI use case starts from: the process, its records over a period and its context.

The use cases (`kpi_report`, `process_warnings`, `weekly_report`) read the process's rows once
through `deshi.kpis.repo`, turn them into the plain records of `deshi.kpis.records` and hand them
to the pure arithmetic. This module holds the loading and the parsing they share.

Periods are whole UTC days: `start` and `end` are inclusive dates.
"""

from __future__ import annotations

import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from deshi.db.tables import Process
from deshi.engine.types import DEFAULT_POLICY
from deshi.errors import NotFound, ValidationFailed
from deshi.kpis import repo as kpi_repo
from deshi.kpis.records import ARMS, Arm, Costs, ItemRecord, KpiPolicy, ModelEvent, week_end

_MEMO = "deshi.kpis.records"  # session.info key of `load_records`'s kept records
_SPARED = "deshi.kpis.spared_seconds"  # session.info key of `spared_seconds`

__all__ = [
    "KpiContext",
    "RowsMark",
    "day_start",
    "get_process",
    "load_context",
    "load_records",
    "load_records_between",
    "parse_arm",
    "parse_week",
    "week_bounds",
]


@dataclass(frozen=True, slots=True)
class KpiContext:
    """What the arithmetic needs besides the records: costs, policy and the model history."""

    costs: Costs
    policy: KpiPolicy
    events: Sequence[ModelEvent] = ()
    audit_rate: float = DEFAULT_POLICY.audit_rate  # share of would-be-auto items audited now
    # handling times imported with the history: the baseline until the live human-only arm
    # has enough items (deshi.kpis.business.baseline_seconds)
    history_seconds: Sequence[float] = ()


def get_process(session: Session, process_id: int) -> Process:
    """The process, for operators; NotFound when it does not exist."""
    process = session.get(Process, process_id)
    if process is None:
        raise NotFound(f"process {process_id} not found")
    return process


def parse_arm(arm: str | None) -> Arm | None:
    """An arm name from a query string; ValidationFailed naming `arm` when it is unknown."""
    if arm is None or arm == "":
        return None
    for known in ARMS:
        if arm == known:
            return known
    raise ValidationFailed(f"unknown arm {arm!r}; use one of {', '.join(ARMS)}", field="arm")


def parse_week(week: str) -> str:
    """A normalized ISO week key ('2026-W47'); ValidationFailed naming `week` otherwise."""
    try:
        year, number = week.strip().upper().split("-W")
        date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise ValidationFailed(
            f"bad ISO week {week!r}; write e.g. 2026-W47", field="week"
        ) from None
    return f"{int(year)}-W{int(number):02d}"


def week_bounds(week: str) -> tuple[date, date]:
    """The Monday and Sunday of an ISO week key."""
    sunday = week_end(week).date() - timedelta(days=1)
    return sunday - timedelta(days=6), sunday


def load_context(session: Session, process: Process) -> KpiContext:
    """The process's costs and KPI policy, and its model promotions."""
    costs = Costs(
        hourly_rate=process.hourly_rate or 0.0,
        cost_per_escaped_error=process.cost_per_escaped_error or 0.0,
        running_cost_per_week=process.running_cost_per_week or 0.0,
        currency=process.currency,
    )
    policy = KpiPolicy(error_budget=process.error_budget, confidence=process.confidence)
    events = kpi_repo.load_model_events(session, process.id)
    return KpiContext(
        costs,
        policy,
        events,
        audit_rate=process.audit_rate,
        history_seconds=kpi_repo.load_history_handling_seconds(session, process.id),
    )


def day_start(day: date | None, *, after: bool = False) -> datetime | None:
    """Midnight UTC starting `day` (or ending it, with `after`)."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1 if after else 0), time(), tzinfo=UTC)


def load_records(
    session: Session,
    process: Process,
    start: date | None,
    end: date | None,
    *,
    memo: RowsMark | None = None,
) -> list[ItemRecord]:
    """The process's item records created from `start` to `end` (inclusive days); `memo`: see
    `load_records_between`."""
    if start is not None and end is not None and end < start:
        raise ValidationFailed("`to` must not be before `from`", field="to")
    return load_records_between(
        session, process, day_start(start), day_start(end, after=True), memo=memo
    )


@dataclass(frozen=True, slots=True)
class RowsMark:
    """What the item records of a process depend on (`deshi.kpis.cache.Fingerprint`): a mark
    that moves with any change of its rows, and the newest item's creation then."""

    mark: str
    newest_item_at: datetime | None


def load_records_between(
    session: Session,
    process: Process,
    start: datetime | None,
    end: datetime | None,
    *,
    memo: RowsMark | None = None,
) -> list[ItemRecord]:
    """The process's item records created in [start, end).

    With `memo` the records read are kept in the session, so a page that shows the KPIs and
    the warnings, or a weekly report (its KPIs and its warnings up to the same instant), reads
    them once. An `end` after the newest item bounds nothing: the records of the whole span are
    read (and kept), then cut at `end` in case an item arrived since the mark was read."""
    if memo is None:
        return kpi_repo.load_item_records(session, process, start=start, end=end)
    newest = memo.newest_item_at
    unbounded = end is not None and newest is not None and newest < _aware(end)
    key = (process.id, start, None if unbounded else end, memo.mark)
    kept: dict[object, tuple[list[ItemRecord], float]] = session.info.setdefault(_MEMO, {})
    if key in kept:
        records, seconds = kept[key]
        session.info[_SPARED] = spared_seconds(session) + seconds
    else:
        kept.clear()  # the latest read only: a session holds one process's records at most
        started = clock.perf_counter()
        records = kpi_repo.load_item_records(session, process, start=start, end=key[2])
        kept[key] = (records, clock.perf_counter() - started)
    if unbounded and end is not None:
        return [record for record in records if record.created_at < _aware(end)]
    return records


def spared_seconds(session: Session) -> float:
    """The seconds of loading that `load_records_between` has spared reads in this session, by
    handing them records an earlier read had loaded. A cached KPI read counts what it was
    spared as its own time (`deshi.kpis.cache`): whether the read is slow enough to recompute in
    the background must not depend on which read of a page happened to load the records first.
    """
    return float(session.info.get(_SPARED, 0.0))


def _aware(moment: datetime) -> datetime:
    """A naive moment read as UTC (the database's times are UTC-aware)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
