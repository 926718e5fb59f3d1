"""Render a process's weekly report as one self-contained HTML page (inline CSS and SVG, no CDN).

`render_weekly_report` is pure: it takes the KPIs already computed by `deshi.kpis.service` and
draws the learning curve, automation, auto error against the budget, handling time per arm and
cumulative savings, with the week's numbers, the recommendation and the early warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from deshi.kpis.models import KpiReport, Kpis, Metric, WarningPublic, WeekKpis
from deshi.kpis.records import ARMS
from deshi.sim.charts import Point, line_chart, percent

__all__ = ["Row", "WeeklyReport", "format_metric", "render_weekly_report", "summary_rows"]


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    """Everything the weekly page shows: KPIs up to the end of `week`, and the warnings then."""

    process_name: str
    week: str
    monday: date
    sunday: date
    kpis: KpiReport
    warnings: Sequence[WarningPublic]
    generated_at: str

    @property
    def this_week(self) -> WeekKpis | None:
        """The KPIs of the reported week; None when no item was created in it."""
        return next((w for w in self.kpis.weeks if w.week == self.week), None)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the numbers table: the week's estimate and the period's."""

    name: str
    week: str
    overall: str


def format_metric(value: Metric | None, fmt: Callable[[float], str]) -> str:
    """'12.5% (9.1% to 16.8%, n=200)'; an em dash when not measurable."""
    if value is None:
        return "—"
    if value.low == value.high:
        return f"{fmt(value.value)} (n={value.n:,})"
    return f"{fmt(value.value)} ({fmt(value.low)} to {fmt(value.high)}, n={value.n:,})"


def _share(value: float) -> str:
    return f"{value:.1%}"


def _fine_share(value: float) -> str:
    return f"{value:.2%}"


def _number(value: float) -> str:
    return f"{value:,.1f}"


def _money(value: float) -> str:
    return f"{value:,.0f}"


def summary_rows(report: WeeklyReport) -> list[Row]:
    """The headline numbers with their intervals, for the week and for the period to date."""
    week, overall = report.this_week, report.kpis.overall
    currency = report.kpis.currency
    pairs: list[tuple[str, Callable[[Kpis | None], Metric | None], Callable[[float], str]]] = [
        ("Agent accuracy", lambda k: k.model.accuracy if k else None, _share),
        ("Auto-complete error (audited)", lambda k: k.model.auto_error if k else None, _fine_share),
        ("Automation", lambda k: k.product.automation if k else None, _share),
        ("Acceptance", lambda k: k.product.acceptance if k else None, _share),
        ("Handling seconds per item", lambda k: k.product.handling_seconds if k else None, _number),
        ("Hours saved", lambda k: k.business.hours_saved if k else None, _number),
        (f"Net savings ({currency})", lambda k: k.business.net_savings if k else None, _money),
        ("Reviews", lambda k: k.flywheel.reviews if k else None, _money),
    ]
    return [
        Row(name, format_metric(pick(week), fmt), format_metric(pick(overall), fmt))
        for name, pick, fmt in pairs
    ]


def render_weekly_report(report: WeeklyReport) -> str:
    """The full HTML page of `report`."""
    template = _environment().get_template("weekly_report.html.j2")
    return template.render(
        report=report,
        rows=summary_rows(report),
        recommendation=report.kpis.recommendation,
        charts=[Markup(chart) for chart in _charts(report)],
        percent=percent,
    )


def _environment() -> Environment:
    """A Jinja2 environment over the package's templates, HTML-escaping by default."""
    return Environment(
        loader=PackageLoader("deshi.kpis", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _week_axis(weeks: Sequence[WeekKpis]) -> Callable[[float], str]:
    """Tick labels: the ISO week of a whole-number position, nothing between weeks."""

    def label(x: float) -> str:
        index = round(x)
        if abs(x - index) > 1e-9 or not 1 <= index <= len(weeks):
            return ""
        return weeks[index - 1].week

    return label


def _series(weeks: Sequence[WeekKpis], pick: Callable[[WeekKpis], Metric | None]) -> list[Point]:
    points: list[Point] = []
    for index, week in enumerate(weeks, start=1):
        found = pick(week)
        points.append((float(index), None if found is None else found.value))
    return points


def _cumulative(weeks: Sequence[WeekKpis], pick: Callable[[WeekKpis], float | None]) -> list[Point]:
    """Running totals; weeks where the amount is not measurable add nothing."""
    total = 0.0
    points: list[Point] = []
    for index, week in enumerate(weeks, start=1):
        total += pick(week) or 0.0
        points.append((float(index), total))
    return points


def _arm_handling(arm: str) -> Callable[[WeekKpis], Metric | None]:
    def pick(week: WeekKpis) -> Metric | None:
        return week.product.handling_seconds_by_arm.get(arm)

    return pick


def _costs(week: WeekKpis) -> float | None:
    error_cost = week.business.escaped_error_cost
    running = week.business.running_cost or 0.0
    return running + (error_cost.value if error_cost else 0.0)


def _charts(report: WeeklyReport) -> list[str]:
    """Learning curve, automation, auto error vs budget, handling time per arm, savings."""
    weeks = report.kpis.weeks
    budget = report.kpis.error_budget
    axis = _week_axis(weeks)
    return [
        line_chart(
            {"accuracy": _series(weeks, lambda w: w.model.accuracy)},
            title="Learning curve: agent accuracy per week",
            y_label="accuracy",
            y_max=1.0,
            y_format=percent,
            x_label="ISO week",
            x_format=axis,
        ),
        line_chart(
            {"automation": _series(weeks, lambda w: w.product.automation)},
            title="Automation per week",
            y_label="auto-completed",
            y_max=1.0,
            y_format=percent,
            x_label="ISO week",
            x_format=axis,
        ),
        line_chart(
            {
                "auto error": _series(weeks, lambda w: w.model.auto_error),
                "upper bound": [
                    (x, None if w.model.auto_error is None else w.model.auto_error.high)
                    for x, w in zip(range(1, len(weeks) + 1), weeks, strict=True)
                ],
            },
            title="Audited auto-complete error per week (gaps: no audits)",
            y_label="error of auto-completed",
            hline=budget,
            hline_label=f"budget ε = {budget:.2%}",
            y_format=percent,
            x_label="ISO week",
            x_format=axis,
        ),
        line_chart(
            {arm: _series(weeks, _arm_handling(arm)) for arm in ARMS},
            title="Mean human handling time per item, by arm",
            y_label="seconds",
            x_label="ISO week",
            x_format=axis,
        ),
        line_chart(
            {
                "money saved": _cumulative(
                    weeks,
                    lambda w: w.business.money_saved.value if w.business.money_saved else None,
                ),
                "error + running cost": _cumulative(weeks, _costs),
            },
            title=f"Cumulative savings and costs ({report.kpis.currency})",
            y_label=report.kpis.currency,
            x_label="ISO week",
            x_format=axis,
        ),
    ]
