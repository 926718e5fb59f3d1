"""The KPI report of a process: its three KPI layers and flywheel over a period, overall and per
ISO week, with the scale / hold / stop recommendation.

`kpi_report` serves operators (the CLI) who hold the database; `kpi_report_for` checks that the
principal may read the process (NotFound for departments they cannot see). Nothing here computes
a statistic itself: the arithmetic is `deshi.kpis.model_quality`, `product`, `business`,
`flywheel` and `recommend`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from deshi.db.tables import Process
from deshi.engine.metrics import exact_count
from deshi.kpis import business, flywheel, model_quality, product
from deshi.kpis.context import KpiContext, load_context, load_records
from deshi.kpis.models import (
    BusinessKpis,
    FlywheelKpis,
    KpiReport,
    Kpis,
    ModelKpis,
    ProductKpis,
    ReasonPublic,
    RecommendationPublic,
    WeekKpis,
    metric,
)
from deshi.kpis.reasons import Param, Reason
from deshi.kpis.recommend import Recommendation, recommend, weekly_evidence
from deshi.kpis.records import Arm, ItemRecord, KpiPolicy, by_week, only_arm, weeks_spanned
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = ["compute_kpis", "kpi_report", "kpi_report_for"]


def kpi_report(
    session: Session,
    process: Process,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
) -> KpiReport:
    """The process's KPIs from `start` to `end` (inclusive), overall and per ISO week."""
    records = load_records(session, process, start, end)
    context = load_context(session, process)
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
