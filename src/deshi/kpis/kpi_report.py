"""The KPI report of a process: its three KPI layers and flywheel over a period, overall and per
ISO week, with the scale / hold / stop recommendation.

`kpi_report` serves operators (the CLI) who hold the database; `kpi_report_for` checks that the
principal may read the process (NotFound for departments they cannot see). Both read the KPI cache
(`deshi.kpis.cache`): a view on unchanged data reads the stored report; `fresh_kpi_report`
always computes. Nothing here computes
a statistic itself: the arithmetic is `deshi.kpis.model_quality`, `product`, `business`,
`flywheel` and `recommend`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import Process
from deshi.engine.metrics import Estimate, exact_count
from deshi.kpis import business, flywheel, model_quality, product
from deshi.kpis.budget import BudgetEvidence, budget_evidence
from deshi.kpis.business import BaselineSource
from deshi.kpis.cache import cached_model, fingerprint
from deshi.kpis.context import KpiContext, RowsMark, load_context, load_records
from deshi.kpis.models import (
    BudgetPublic,
    BusinessKpis,
    FlywheelKpis,
    KpiReport,
    Kpis,
    Metric,
    ModelKpis,
    PeriodPublic,
    ProductKpis,
    ReasonPublic,
    RecommendationPublic,
    WeekKpis,
    metric,
)
from deshi.kpis.recommend import Evidence, Period, Recommendation, recommend
from deshi.kpis.records import (
    Arm,
    ItemRecord,
    by_week,
    iso_week,
    only_arm,
    week_end,
    weeks_spanned,
)
from deshi.kpis.refresh import Deferral, KpiRead, KpiRefresher
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = [
    "compute_kpis",
    "fresh_kpi_report",
    "kpi_report",
    "kpi_report_for",
    "period_evidence",
]

RECENT_WEEKS = 2  # complete weeks whose audits give the current pace (recent: it changes)


def kpi_report(
    session: Session,
    process: Process,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
    now: datetime | None = None,
    refresher: KpiRefresher | None = None,
) -> KpiReport:
    """The process's KPIs from `start` to `end` (inclusive), overall and per ISO week, and the
    recommendation over the same period (`fresh_kpi_report`), read from the KPI cache when the
    data has not changed since they were last computed (`deshi.kpis.cache`). With a
    `refresher`, a stale stored report that was slow to compute is served (with `as_of`) while
    it is recomputed in the background (`deshi.kpis.refresh`)."""
    now = now or utcnow()
    # the clock reaches the report only through which weeks have ended: the week of `now`
    read = f"kpis|{start}|{end}|{arm}|"
    key = f"{read}{iso_week(now)}"
    found = fingerprint(session, process)
    again = KpiRead("kpis", process.id, key, start=start, end=end, arm=arm, now=now)
    served = cached_model(
        session,
        process.id,
        key,
        found,
        lambda: fresh_kpi_report(
            session, process, start=start, end=end, arm=arm, now=now, memo=found.rows
        ),
        KpiReport,
        deferral=None if refresher is None else Deferral(refresher, again, earlier=read),
    )
    if served.as_of is None:
        return served.value
    return served.value.model_copy(update={"as_of": served.as_of})


def fresh_kpi_report(
    session: Session,
    process: Process,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
    now: datetime | None = None,
    memo: RowsMark | None = None,
) -> KpiReport:
    """`kpi_report` computed from the rows, bypassing the cache: the recommendation is judged
    on the same numbers as the overall KPIs (of every arm: with `arm`, the whole process's are
    computed for it too). `memo`: see `load_records`."""
    records = load_records(session, process, start, end, memo=memo)
    context = load_context(session, process)
    overall, weeks = compute_kpis(records, context, arm=arm)
    whole = overall if arm is None else compute_kpis(records, context)[0]
    evidence = period_evidence(records, whole, context, now=now or utcnow())
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
        recommendation=_public(recommend(evidence, context.policy)),
    )


def kpi_report_for(
    session: Session,
    principal: Principal,
    process_id: int,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
    now: datetime | None = None,
    refresher: KpiRefresher | None = None,
) -> KpiReport:
    """`kpi_report` for a principal who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return kpi_report(session, process, start=start, end=end, arm=arm, now=now, refresher=refresher)


def compute_kpis(
    records: Sequence[ItemRecord], context: KpiContext, *, arm: Arm | None = None
) -> tuple[Kpis, list[WeekKpis]]:
    """Overall and per-week KPIs of the records of `arm` (all arms when None).

    The human-only baseline is always pooled over every record given, so an arm's savings are
    measured against the same yardstick as the whole process's.
    """
    chosen = only_arm(records, arm)
    # the baseline reads only completed human-only items: sifted once, not once per week
    pool = [item for item in records if item.arm == "human_only" and item.is_completed]
    reviews, labels, reviewers = flywheel.feedback_per_week(chosen)
    yardstick = _yardstick(pool, context)
    weeks = [
        WeekKpis(
            week=week,
            items=len(group),
            model=_model(group, context),
            product=_product(group, context),
            business=_business(group, pool, yardstick, context, weeks=1),
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
        model=_overall_model(chosen, context),
        product=_product(chosen, context),
        business=_business(chosen, pool, yardstick, context, weeks=weeks_spanned(chosen)),
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


def _yardstick(
    baseline_pool: Sequence[ItemRecord], context: KpiContext
) -> tuple[Metric | None, BaselineSource | None]:
    """The baseline minutes per item and their source, as every week's business case shows
    them: the same for every week of a report, so computed once."""
    policy = context.policy
    baseline = business.baseline_minutes_per_item(
        baseline_pool,
        history_seconds=context.history_seconds,
        min_items=policy.min_baseline_items,
        confidence=policy.confidence,
    )
    _, source = business.baseline_seconds(
        baseline_pool, context.history_seconds, min_items=policy.min_baseline_items
    )
    return metric(baseline), source


def _business(
    items: Sequence[ItemRecord],
    baseline_pool: Sequence[ItemRecord],
    yardstick: tuple[Metric | None, BaselineSource | None],
    context: KpiContext,
    *,
    weeks: int,
) -> BusinessKpis:
    """The business case of `items` against the human-only items of `baseline_pool`, whose
    `_yardstick` it shows.

    When savings are measurable the escaped errors shown are the ones netted (at the
    Bonferroni-adjusted confidence of `business.savings`), otherwise at the policy's.
    """
    policy, costs = context.policy, context.costs
    baseline, source = yardstick
    found = business.savings(
        items,
        costs,
        weeks=weeks,
        baseline_items=baseline_pool,
        history_seconds=context.history_seconds,
        min_baseline_items=policy.min_baseline_items,
        confidence=policy.confidence,
    )
    if found is None:
        auto_error = model_quality.realized_auto_error(items, confidence=policy.confidence)
        escaped = business.escaped_errors(items, auto_error)
        return BusinessKpis(
            baseline_minutes=baseline,
            baseline_source=source,
            hours_saved=None,
            money_saved=None,
            escaped_errors=metric(escaped),
            escaped_error_cost=metric(business.escaped_error_cost(items, auto_error, costs)),
            running_cost=costs.running_cost_per_week * weeks,
            net_savings=None,
            roi=None,
        )
    return BusinessKpis(
        baseline_minutes=baseline,
        baseline_source=source,
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


def _overall_model(items: Sequence[ItemRecord], context: KpiContext) -> ModelKpis:
    """The model layer of a whole period: its auto error is the budget evidence's (anytime-valid
    bounds), the very estimate the recommendation judges."""
    plain = _model(items, context)
    audits, errors = model_quality.audit_counts(items)
    policy = context.policy
    found = budget_evidence(
        audits, errors, budget=policy.error_budget, confidence=policy.confidence
    )
    if found is None:
        return plain
    budget = BudgetPublic(
        audits=found.audits,
        errors=found.errors,
        budget=found.budget,
        holds=found.holds,
        broken=found.broken,
        audits_needed=found.audits_needed,
    )
    return plain.model_copy(update={"auto_error": metric(found.estimate), "budget": budget})


def _estimate(found: Metric | None) -> Estimate | None:
    return None if found is None else Estimate(found.value, found.low, found.high, found.n)


def _budget(model: ModelKpis) -> BudgetEvidence | None:
    """The budget evidence the overall KPIs show, as the decision rule reads it."""
    if model.budget is None or model.auto_error is None:
        return None
    b = model.budget
    estimate = Estimate(
        model.auto_error.value, model.auto_error.low, model.auto_error.high, b.audits
    )
    return BudgetEvidence(
        b.audits, b.errors, b.budget, estimate, b.holds, b.broken, b.audits_needed
    )


def _weeks_between(first: str, last: str) -> list[str]:
    weeks = [first]
    while weeks[-1] < last:
        weeks.append(iso_week(week_end(weeks[-1])))
    return weeks


def _ended(week: str, now: datetime) -> bool:
    aware = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return week_end(week).replace(tzinfo=UTC) <= aware


def _audits_per_week(records: Sequence[ItemRecord], weeks: list[str], now: datetime) -> float:
    """Audits per week over the last `RECENT_WEEKS` complete weeks (the weeks so far if none)."""
    complete = [week for week in weeks if _ended(week, now)]
    recent = (complete or weeks)[-RECENT_WEEKS:]
    if not recent:
        return 0.0
    grouped = by_week(records)
    audits = sum(model_quality.audit_counts(grouped.get(week, []))[0] for week in recent)
    return audits / len(recent)


def period_evidence(
    records: Sequence[ItemRecord], overall: Kpis, context: KpiContext, *, now: datetime
) -> Evidence:
    """What the decision rule reads: the period of `records` and the numbers of `overall` (the
    cards), plus the recent pace of audits."""
    keys = list(by_week(records))
    weeks = _weeks_between(keys[0], keys[-1]) if keys else []
    period = Period(
        first_week=keys[0] if keys else None,
        last_week=keys[-1] if keys else None,
        weeks=weeks_spanned(records),
        partial=bool(keys) and not _ended(keys[-1], now),
    )
    return Evidence(
        period=period,
        net_savings=_estimate(overall.business.net_savings),
        budget=_budget(overall.model),
        acceptance=_estimate(overall.product.acceptance),
        currency=context.costs.currency,
        audits_per_week=_audits_per_week(records, weeks, now),
        audit_rate=context.audit_rate,
    )


def _public(found: Recommendation) -> RecommendationPublic:
    period = found.period
    return RecommendationPublic(
        action=found.action,
        reasons=[
            ReasonPublic(code=r.code, message=r.message, params=dict(r.params))
            for r in found.reasons
        ],
        period=PeriodPublic(
            first_week=period.first_week,
            last_week=period.last_week,
            weeks=period.weeks,
            partial=period.partial,
        ),
    )
