"""The early warnings of a process: the pure checks of `deshi.kpis.warnings` run on its records.

`process_warnings` serves operators (the CLI); `warnings_for` checks that the principal may read
the process (NotFound for departments they cannot see). Both read the KPI cache
(`deshi.kpis.cache`); `fresh_process_warnings` always computes. `compute_warnings` is the pure
part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from functools import partial
from typing import Protocol

from pydantic import RootModel
from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import DriftState, Process
from deshi.domain import Stage
from deshi.engine.metrics import Estimate
from deshi.kpis import business, flywheel, model_quality, product
from deshi.kpis import repo as kpi_repo
from deshi.kpis import warnings as early
from deshi.kpis.budget import BudgetEvidence, budget_evidence
from deshi.kpis.cache import cached_model, fingerprint
from deshi.kpis.context import KpiContext, RowsMark, load_context, load_records_between
from deshi.kpis.models import WarningPublic
from deshi.kpis.records import ItemRecord, KpiPolicy, by_week, iso_week, week_end
from deshi.kpis.refresh import Deferral, KpiRead, KpiRefresher
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = [
    "compute_warnings",
    "fresh_process_warnings",
    "process_warnings",
    "warnings_for",
]


class _Warnings(RootModel[list[WarningPublic]]):
    """The fired warnings as one stored value of the KPI cache."""


def process_warnings(
    session: Session,
    process: Process,
    *,
    now: datetime | None = None,
    refresher: KpiRefresher | None = None,
) -> list[WarningPublic]:
    """The early warnings of a process as of `now` (default: the current time), read from the
    KPI cache when neither the data nor the day changed since they were last computed. With a
    `refresher`, stale stored warnings that were slow to compute are served while they are
    recomputed in the background (`deshi.kpis.refresh`)."""
    now = now or utcnow()
    drift = _drift_figures(session, process.id)
    owner = kpi_repo.owner_name(session, process)
    # the newest decision (held back by the monitor?) is the newest id the watermark reads:
    # decisions are never changed in place, a new one is stored
    found = fingerprint(session, process, extra=(json.dumps(drift, sort_keys=True), owner))
    aware_now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    earlier = None
    if found.newest_item_at is not None and found.newest_item_at > aware_now:
        key = f"warnings|{now.isoformat()}"  # as of a past instant (a weekly report's week end)
    else:  # the clock reaches them through the day (stage overdue, weeks ended) and the
        # process's whole days of age (no baseline yet)
        age_days = int((now - process.created_at).total_seconds() // 86400)
        earlier = "warnings|day|"
        key = f"{earlier}{now.date().isoformat()}|{age_days}"
    compute = partial(fresh_process_warnings, session, process, now=now, memo=found.rows)
    again = KpiRead("warnings", process.id, key, now=now)
    deferral = None if refresher is None else Deferral(refresher, again, earlier=earlier)
    served = cached_model(
        session, process.id, key, found, lambda: _Warnings(compute()), _Warnings, deferral=deferral
    )
    return served.value.root


def fresh_process_warnings(
    session: Session,
    process: Process,
    *,
    now: datetime | None = None,
    memo: RowsMark | None = None,
) -> list[WarningPublic]:
    """`process_warnings` computed from the rows, bypassing the cache. With `memo` the
    records the KPIs read in this session are reused (`load_records_between`)."""
    now = now or utcnow()
    records = load_records_between(session, process, None, now, memo=memo)
    fired = compute_warnings(
        records,
        load_context(session, process),
        now=now,
        process_created_at=process.created_at,
        owner=kpi_repo.owner_name(session, process),
        stage=process.stage,
        planned_end=_planned_end(process),
        suspended_since=kpi_repo.latest_decision_suspended(session, process.id),
        drift=_drift_figures(session, process.id),
    )
    return [
        WarningPublic(code=w.code, severity=w.severity, message=w.message, params=dict(w.params))
        for w in fired
    ]


def warnings_for(
    session: Session,
    principal: Principal,
    process_id: int,
    *,
    now: datetime | None = None,
    refresher: KpiRefresher | None = None,
) -> list[WarningPublic]:
    """`process_warnings` for a principal who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return process_warnings(session, process, now=now, refresher=refresher)


def _drift_figures(session: Session, process_id: int) -> Mapping[str, object] | None:
    """The drift check's last stored figures (one row by key: checks run in the worker,
    deshi.items.drift, never per page view)."""
    state = session.get(DriftState, process_id)
    return state.figures if state is not None and state.drifting else None


def _planned_end(process: Process) -> date | None:
    """When the current stage is planned to end."""
    if process.stage is Stage.DESIGN:
        return process.planned_limited_production_on
    if process.stage is Stage.LIMITED_PRODUCTION:
        return process.planned_scale_on
    return None


def _completed_weeks(records: Sequence[ItemRecord], now: datetime) -> list[str]:
    """Consecutive ISO weeks from the first record's to the last one ended by `now`."""
    if not records:
        return []
    weeks: list[str] = []
    week = iso_week(min(item.created_at for item in records))
    while week_end(week).replace(tzinfo=now.tzinfo) <= now:
        weeks.append(week)
        week = iso_week(week_end(week))
    return weeks


def compute_warnings(
    records: Sequence[ItemRecord],
    context: KpiContext,
    *,
    now: datetime,
    process_created_at: datetime,
    owner: str | None,
    stage: Stage,
    planned_end: date | None,
    suspended_since: datetime | None,
    drift: Mapping[str, object] | None = None,
) -> list[early.EarlyWarning]:
    """Every early warning that fires on the records, most severe first (pure)."""
    policy = context.policy
    weeks = _completed_weeks(records, now)
    grouped = by_week(records)
    last = grouped.get(weeks[-1], []) if weeks else []
    before = [item for week in weeks[:-1] for item in grouped.get(week, [])]
    reviews = flywheel.reviews_per_week(records)
    waiting = [item for item in records if item.route in ("review", "audit")]  # queue_snapshot's
    baseline = business.baseline_minutes_per_item(
        records,
        history_seconds=context.history_seconds,
        min_items=policy.min_baseline_items,
        confidence=policy.confidence,
    )
    return early.collect(
        early.no_owner(owner),
        early.no_baseline(process_created_at, now, baseline),
        early.stage_overdue(stage.value, planned_end, now.date()),
        early.backlog_growing([_backlog(waiting, week, now) for week in weeks]),
        early.feedback_falling([int(reviews[w].value) if w in reviews else 0 for w in weeks]),
        _drift("acceptance", product.acceptance_rate, before, last, policy),
        _drift("accuracy", model_quality.accuracy, before, last, policy),
        early.error_budget_at_risk(
            model_quality.realized_auto_error(last, confidence=policy.confidence),
            policy.error_budget,
            period=_budget(records, policy),
        ),
        early.autopilot_suspended(suspended_since is not None, since=suspended_since),
        early.input_drift(drift),
    )


def _budget(records: Sequence[ItemRecord], policy: KpiPolicy) -> BudgetEvidence | None:
    """Every audit to date under the recommendation's test, so a "broken" warning and a "stop"
    verdict cannot disagree."""
    audits, errors = model_quality.audit_counts(records)
    return budget_evidence(audits, errors, budget=policy.error_budget, confidence=policy.confidence)


def _backlog(records: Sequence[ItemRecord], week: str, now: datetime) -> int:
    return product.queue_snapshot(records, week_end(week).replace(tzinfo=now.tzinfo)).open_items


class _ProportionKpi(Protocol):
    def __call__(
        self, items: Sequence[ItemRecord], *, confidence: float = ...
    ) -> Estimate | None: ...


def _drift(
    name: str,
    kpi: _ProportionKpi,
    before: Sequence[ItemRecord],
    last: Sequence[ItemRecord],
    policy: KpiPolicy,
) -> early.EarlyWarning | None:
    confidence = policy.confidence
    return early.quality_drift(
        name,
        kpi(before, confidence=confidence),
        kpi(last, confidence=confidence),
        confidence=confidence,
    )
