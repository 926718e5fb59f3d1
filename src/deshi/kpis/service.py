"""KPI use cases: a process's KPIs over a period, its early warnings and its weekly report.

The service reads the process's rows once (`deshi.kpis.repo`), turns them into plain records
and applies the pure arithmetic of `deshi.kpis`; nothing here computes a statistic itself.
Functions ending in `_for` check that the principal may read the process (NotFound for
departments they cannot see), the others serve operators (the CLI) who hold the database.

Periods are whole UTC days: `start` and `end` are inclusive dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from deshi.auth.permissions import Action, Principal
from deshi.db.base import utcnow
from deshi.db.models import Process
from deshi.engine.metrics import Estimate, exact_count
from deshi.errors import NotFound, ValidationFailed
from deshi.i18n import DEFAULT_LOCALE
from deshi.kpis import business, flywheel, model_quality, product
from deshi.kpis import repo as kpi_repo
from deshi.kpis import warnings as early
from deshi.kpis.models import (
    BusinessKpis,
    FlywheelKpis,
    KpiReport,
    Kpis,
    ModelKpis,
    ProductKpis,
    ReasonPublic,
    RecommendationPublic,
    WarningPublic,
    WeekKpis,
    metric,
)
from deshi.kpis.reasons import Param, Reason
from deshi.kpis.recommend import Recommendation, recommend, weekly_evidence
from deshi.kpis.records import (
    ARMS,
    Arm,
    Costs,
    ItemRecord,
    KpiPolicy,
    ModelEvent,
    by_week,
    iso_week,
    only_arm,
    week_end,
    weeks_spanned,
)
from deshi.kpis.report import WeeklyReport, render_weekly_report
from deshi.processes.models import Stage
from deshi.processes.service import get_process_for

__all__ = [
    "KpiContext",
    "compute_kpis",
    "compute_warnings",
    "get_process",
    "kpi_report",
    "kpi_report_for",
    "parse_arm",
    "parse_week",
    "process_warnings",
    "warnings_for",
    "week_bounds",
    "weekly_report_html",
    "weekly_report_html_for",
]


@dataclass(frozen=True, slots=True)
class KpiContext:
    """What the arithmetic needs besides the records: costs, policy and the model history."""

    costs: Costs
    policy: KpiPolicy
    events: Sequence[ModelEvent] = ()


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


def _context(session: Session, process: Process) -> KpiContext:
    costs = Costs(
        hourly_rate=process.hourly_rate or 0.0,
        cost_per_escaped_error=process.cost_per_escaped_error or 0.0,
        currency=process.currency,
    )
    policy = KpiPolicy(error_budget=process.error_budget, confidence=process.confidence)
    return KpiContext(costs, policy, kpi_repo.load_model_events(session, process.id))


def _instant(day: date | None, *, after: bool = False) -> datetime | None:
    """Midnight UTC starting `day` (or ending it, with `after`)."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1 if after else 0), time(), tzinfo=UTC)


def _load(
    session: Session, process: Process, start: date | None, end: date | None
) -> list[ItemRecord]:
    if start is not None and end is not None and end < start:
        raise ValidationFailed("`to` must not be before `from`", field="to")
    return kpi_repo.load_item_records(
        session, process, start=_instant(start), end=_instant(end, after=True)
    )


def kpi_report(
    session: Session,
    process: Process,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
) -> KpiReport:
    """The process's KPIs from `start` to `end` (inclusive), overall and per ISO week."""
    records = _load(session, process, start, end)
    context = _context(session, process)
    overall, weeks = compute_kpis(records, context, arm=arm)
    return KpiReport(
        process_id=process.id,
        arm=arm,
        start=start,
        end=end,
        confidence=context.policy.confidence,
        error_budget=context.policy.error_budget,
        currency=context.costs.currency,
        overall=overall,
        weeks=weeks,
        recommendation=_recommendation(records, context),
    )


def kpi_report_for(
    session: Session,
    principal: Principal,
    process_id: int,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
) -> KpiReport:
    """`kpi_report` for a principal who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return kpi_report(session, process, start=start, end=end, arm=arm)


def compute_kpis(
    records: Sequence[ItemRecord], context: KpiContext, *, arm: Arm | None = None
) -> tuple[Kpis, list[WeekKpis]]:
    """Overall and per-week KPIs of the records of `arm` (all arms when None).

    The human-only baseline is always pooled over every record given, so an arm's savings are
    measured against the same yardstick as the whole process's.
    """
    chosen = only_arm(records, arm)
    reviews = flywheel.reviews_per_week(chosen)
    labels = flywheel.labels_covered_per_week(chosen)
    reviewers = flywheel.active_reviewers_per_week(chosen)
    weeks = [
        WeekKpis(
            week=week,
            items=len(group),
            model=_model(group, context),
            product=_product(group, context),
            business=_business(group, records, context, weeks=1),
            flywheel=FlywheelKpis(
                reviews=metric(reviews.get(week)),
                labels_covered=labels.get(week, 0),
                active_reviewers=reviewers.get(week, 0),
                accuracy_gain_per_week=None,
                accuracy_gain_per_1000_reviews=None,
                retraining_cycle_days=None,
            ),
        )
        for week, group in by_week(chosen).items()
    ]
    overall = Kpis(
        items=len(chosen),
        model=_model(chosen, context),
        product=_product(chosen, context),
        business=_business(chosen, records, context, weeks=weeks_spanned(chosen)),
        flywheel=_flywheel(chosen, context),
    )
    return overall, weeks


def _model(items: Sequence[ItemRecord], context: KpiContext) -> ModelKpis:
    confidence = context.policy.confidence
    return ModelKpis(
        accuracy=metric(model_quality.accuracy(items, confidence=confidence)),
        calibration_error=metric(model_quality.calibration_error(items, confidence=confidence)),
        auto_error=metric(model_quality.realized_auto_error(items, confidence=confidence)),
    )


def _product(items: Sequence[ItemRecord], context: KpiContext) -> ProductKpis:
    confidence = context.policy.confidence
    by_arm = product.handling_time_by_arm(items, confidence=confidence)
    return ProductKpis(
        automation=metric(product.automation_rate(items, confidence=confidence)),
        acceptance=metric(product.acceptance_rate(items, confidence=confidence)),
        correction=metric(product.correction_rate(items, confidence=confidence)),
        handling_seconds=metric(product.handling_time(items, confidence=confidence)),
        handling_seconds_by_arm={arm: metric(estimate) for arm, estimate in by_arm.items()},
    )


def _business(
    items: Sequence[ItemRecord],
    baseline_pool: Sequence[ItemRecord],
    context: KpiContext,
    *,
    weeks: int,
) -> BusinessKpis:
    """The business case of `items` against the human-only items of `baseline_pool`.

    When savings are measurable the escaped errors shown are the ones netted (at the
    Bonferroni-adjusted confidence of `business.savings`), otherwise at the policy's.
    """
    policy, costs = context.policy, context.costs
    found = business.savings(
        items,
        costs,
        weeks=weeks,
        baseline_items=baseline_pool,
        min_baseline_items=policy.min_baseline_items,
        confidence=policy.confidence,
    )
    baseline = business.baseline_minutes_per_item(
        baseline_pool, min_items=policy.min_baseline_items, confidence=policy.confidence
    )
    if found is None:
        auto_error = model_quality.realized_auto_error(items, confidence=policy.confidence)
        escaped = business.escaped_errors(items, auto_error)
        return BusinessKpis(
            baseline_minutes=metric(baseline),
            hours_saved=None,
            money_saved=None,
            escaped_errors=metric(escaped),
            escaped_error_cost=metric(business.escaped_error_cost(items, auto_error, costs)),
            running_cost=None,
            net_savings=None,
            roi=None,
        )
    return BusinessKpis(
        baseline_minutes=metric(baseline),
        hours_saved=metric(found.hours_saved),
        money_saved=metric(found.money_saved),
        escaped_errors=metric(found.escaped_errors),
        escaped_error_cost=metric(found.escaped_error_cost),
        running_cost=found.running_cost,
        net_savings=metric(found.net),
        roi=metric(found.roi),
    )


def _flywheel(items: Sequence[ItemRecord], context: KpiContext) -> FlywheelKpis:
    confidence = context.policy.confidence
    reviewed = [item for item in items if item.is_reviewed and item.completed_at is not None]
    events = context.events
    return FlywheelKpis(
        reviews=metric(exact_count(len(reviewed))),
        labels_covered=len({item.final_label for item in reviewed if item.final_label}),
        active_reviewers=len({item.reviewer_id for item in reviewed if item.reviewer_id}),
        accuracy_gain_per_week=metric(
            flywheel.accuracy_gain_per_week(events, confidence=confidence)
        ),
        accuracy_gain_per_1000_reviews=metric(
            flywheel.accuracy_gain_per_1000_reviews(events, confidence=confidence)
        ),
        retraining_cycle_days=metric(
            flywheel.retraining_cycle_days(items, events, confidence=confidence)
        ),
    )


def _recommendation(records: Sequence[ItemRecord], context: KpiContext) -> RecommendationPublic:
    policy = context.policy
    evidence = weekly_evidence(records, context.costs, policy)
    found = recommend(evidence, policy) if evidence else _no_weeks_yet(policy)
    return RecommendationPublic(
        action=found.action,
        reasons=[
            ReasonPublic(code=r.code, message=r.message, params=dict(r.params))
            for r in found.reasons
        ],
    )


def _no_weeks_yet(policy: KpiPolicy) -> Recommendation:
    """Hold with no week observed (`recommend` needs at least one week of evidence)."""
    message = f"Only 0 of {policy.weeks_required} required week(s) observed."
    params: dict[str, Param] = {"weeks_observed": 0, "weeks_required": policy.weeks_required}
    return Recommendation("hold", (Reason("not_enough_weeks", message, params),))


# --- early warnings ---------------------------------------------------------------------------


def process_warnings(
    session: Session, process: Process, *, now: datetime | None = None
) -> list[WarningPublic]:
    """The early warnings of a process as of `now` (default: the current time)."""
    now = now or utcnow()
    records = kpi_repo.load_item_records(session, process, end=now)
    fired = compute_warnings(
        records,
        _context(session, process),
        now=now,
        process_created_at=process.created_at,
        owner=kpi_repo.owner_name(session, process),
        stage=process.stage,
        planned_end=_planned_end(process),
        suspended_since=kpi_repo.latest_decision_suspended(session, process.id),
    )
    return [
        WarningPublic(code=w.code, severity=w.severity, message=w.message, params=dict(w.params))
        for w in fired
    ]


def warnings_for(
    session: Session, principal: Principal, process_id: int, *, now: datetime | None = None
) -> list[WarningPublic]:
    """`process_warnings` for a principal who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return process_warnings(session, process, now=now)


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
) -> list[early.EarlyWarning]:
    """Every early warning that fires on the records, most severe first (pure)."""
    policy = context.policy
    weeks = _completed_weeks(records, now)
    grouped = by_week(records)
    last = grouped.get(weeks[-1], []) if weeks else []
    before = [item for week in weeks[:-1] for item in grouped.get(week, [])]
    reviews = flywheel.reviews_per_week(records)
    baseline = business.baseline_minutes_per_item(
        records, min_items=policy.min_baseline_items, confidence=policy.confidence
    )
    return early.collect(
        early.no_owner(owner),
        early.no_baseline(process_created_at, now, baseline),
        early.stage_overdue(stage.value, planned_end, now.date()),
        early.backlog_growing([_backlog(records, week, now) for week in weeks]),
        early.feedback_falling([int(reviews[w].value) if w in reviews else 0 for w in weeks]),
        _drift("acceptance", product.acceptance_rate, before, last, policy),
        _drift("accuracy", model_quality.accuracy, before, last, policy),
        early.error_budget_at_risk(
            model_quality.realized_auto_error(last, confidence=policy.confidence),
            policy.error_budget,
        ),
        early.autopilot_suspended(suspended_since is not None, since=suspended_since),
    )


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


# --- weekly report ----------------------------------------------------------------------------


def weekly_report_html(
    session: Session,
    process: Process,
    week: str,
    *,
    locale: str = DEFAULT_LOCALE,
    now: datetime | None = None,
) -> str:
    """The self-contained HTML report of an ISO week in `locale`: KPIs from the start to that
    week's end, the recommendation then, and the warnings as of the week's end (or now, if
    sooner)."""
    week = parse_week(week)
    monday, sunday = week_bounds(week)
    now = now or utcnow()
    as_of = min(now, _instant(sunday, after=True) or now)
    report = WeeklyReport(
        process_name=process.name,
        week=week,
        monday=monday,
        sunday=sunday,
        kpis=kpi_report(session, process, end=sunday),
        warnings=process_warnings(session, process, now=as_of),
        generated_at=now,
    )
    return render_weekly_report(report, locale=locale)


def weekly_report_html_for(
    session: Session,
    principal: Principal,
    process_id: int,
    week: str,
    *,
    locale: str = DEFAULT_LOCALE,
) -> str:
    """`weekly_report_html` for a principal who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return weekly_report_html(session, process, week, locale=locale)
