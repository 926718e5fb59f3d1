"""Public shapes of the KPIs as the API and the CLI's `--json` render them.

Every number is a `Metric` {value, low, high, n}: a point estimate with its two-sided interval at
the process's confidence and the number of observations behind it; null means "not measurable
yet" (see docs/kpis.md for each definition).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from deshi.engine.metrics import Estimate

__all__ = [
    "BudgetPublic",
    "BusinessKpis",
    "FlywheelKpis",
    "KpiReport",
    "Kpis",
    "Metric",
    "ModelKpis",
    "PeriodPublic",
    "ProductKpis",
    "ReasonPublic",
    "RecommendationPublic",
    "WarningPublic",
    "WeekKpis",
    "metric",
]


class Metric(BaseModel):
    """A point estimate with its interval and the number of observations."""

    value: float
    low: float
    high: float
    n: int


def metric(estimate: Estimate | None) -> Metric | None:
    """The public form of an estimate (None stays None)."""
    if estimate is None:
        return None
    return Metric(value=estimate.value, low=estimate.low, high=estimate.high, n=estimate.n)


class BudgetPublic(BaseModel):
    """The error budget judged on every audit of the period (anytime-valid bounds)."""

    audits: int
    errors: int
    budget: float = Field(description="The error budget ε.")
    holds: bool = Field(description="The audits prove the error is below ε.")
    broken: bool = Field(description="The audits prove the error is above ε (autopilot stops).")
    audits_needed: int = Field(description="More error-free audits that would prove ε.")


class ModelKpis(BaseModel):
    """How often the agent is right, how honest its confidence is, its real auto error."""

    accuracy: Metric | None
    calibration_error: Metric | None
    auto_error: Metric | None = Field(
        description="Realized auto-complete error on the audits: per week a Clopper-Pearson "
        "interval; over a whole period the anytime-valid bounds the recommendation judges."
    )
    budget: BudgetPublic | None = Field(
        default=None, description="Over a whole period only: the audits against the budget."
    )


class ProductKpis(BaseModel):
    """How much work the agent takes and how long the work takes."""

    automation: Metric | None
    acceptance: Metric | None
    correction: Metric | None
    handling_seconds: Metric | None
    handling_seconds_by_arm: dict[str, Metric | None]


class BusinessKpis(BaseModel):
    """Time and money against the human-only baseline (amounts in the process currency)."""

    baseline_minutes: Metric | None
    baseline_source: Literal["live", "history"] | None = Field(
        default=None,
        description="Where the baseline's handling times come from: the live human-only arm, "
        "or the imported history's (measured in the previous system) until that arm has enough "
        "items; null while neither has.",
    )
    hours_saved: Metric | None
    money_saved: Metric | None
    escaped_errors: Metric | None
    escaped_error_cost: Metric | None
    running_cost: float | None
    net_savings: Metric | None
    roi: Metric | None


class FlywheelKpis(BaseModel):
    """How fast and how broadly the agent learns (reviews are counted when they were made)."""

    reviews: Metric | None
    labels_covered: int
    active_reviewers: int
    accuracy_gain_per_week: Metric | None
    accuracy_gain_per_1000_reviews: Metric | None
    retraining_cycle_days: Metric | None


class Kpis(BaseModel):
    """The three KPI layers and the learning flywheel for one period."""

    items: int
    model: ModelKpis
    product: ProductKpis
    business: BusinessKpis
    flywheel: FlywheelKpis


class WeekKpis(Kpis):
    """The KPIs of one ISO week (items grouped by the week they were created)."""

    week: str


class ReasonPublic(BaseModel):
    """A translatable sentence: stable code, parameters, English message."""

    code: str
    message: str
    params: dict[str, str | int | float]


class PeriodPublic(BaseModel):
    """The ISO weeks a recommendation judges; `partial`: the last one had not ended yet."""

    first_week: str | None
    last_week: str | None
    weeks: int
    partial: bool


class RecommendationPublic(BaseModel):
    """Scale, hold or stop over a period, with the reasons."""

    action: Literal["scale", "hold", "stop"]
    reasons: list[ReasonPublic]
    period: PeriodPublic


class WarningPublic(BaseModel):
    """An early warning for the owner."""

    code: str
    severity: Literal["info", "warning", "critical"]
    message: str
    params: dict[str, str | int | float]


class KpiReport(BaseModel):
    """KPIs of a process over a period: overall, per ISO week, and the recommendation."""

    process_id: int
    arm: str | None
    start: date | None = Field(serialization_alias="from")
    end: date | None = Field(serialization_alias="to")
    confidence: float
    error_budget: float
    currency: str
    overall: Kpis
    weeks: list[WeekKpis]
    recommendation: RecommendationPublic
    as_of: datetime | None = Field(
        default=None,
        description=(
            "None: the figures are of the data as it is now. A time: the last moment these "
            "figures were known to match the data; they are one earlier computation's, served "
            "at once while a long-running server recomputes them in the background (computing "
            "them takes seconds at this process's size); a later view shows the new ones."
        ),
    )
