"""Render a process's weekly report as one self-contained HTML page (inline CSS and SVG, no CDN).

`render_weekly_report` is pure: it takes the KPIs already computed by `deshi.kpis.kpi_report` and a
language of `deshi.i18n.LOCALES`, and draws the learning curve, automation, auto error against the
budget, handling time per arm and cumulative savings, with the week's numbers, the recommendation
and the early warnings. Every label goes through the UI's catalog (deshi/locale), numbers and
dates are formatted for the language, and the recommendation's reasons and the warnings are
explained from their codes as on the dashboard (`deshi.kpis.explain`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, partial

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from deshi.charts import Point
from deshi.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    format_number,
    format_percent,
    translated_environment,
    translations,
)
from deshi.kpis.charts import week_chart, week_series
from deshi.kpis.definitions import HELP_PATH, definitions
from deshi.kpis.explain import arm_name, explain
from deshi.kpis.models import KpiReport, Kpis, Metric, WarningPublic, WeekKpis
from deshi.kpis.records import ARMS

__all__ = [
    "Row",
    "WeeklyReport",
    "format_metric",
    "render_weekly_report",
    "summary_rows",
    "week_charts",
]

Format = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    """Everything the weekly page shows: KPIs up to the end of `week`, and the warnings then."""

    process_name: str
    week: str
    monday: date
    sunday: date
    kpis: KpiReport
    warnings: Sequence[WarningPublic]
    generated_at: datetime  # UTC
    base_url: str = ""  # the app's address for links back; "" gives links relative to its root

    @property
    def partial(self) -> bool:
        """True when the report was made before the week ended: its numbers cover part of it."""
        end = datetime.combine(self.sunday + timedelta(days=1), time(), tzinfo=UTC)
        made = self.generated_at
        return (made if made.tzinfo else made.replace(tzinfo=UTC)) < end

    def link(self, path: str) -> str:
        """An address in the app: absolute with `base_url`, else relative to the app's root."""
        return f"{self.base_url.rstrip('/')}{path}"

    @property
    def dashboard_url(self) -> str:
        """The process's dashboard in the app."""
        return self.link(f"/ui/processes/{self.kpis.process_id}")

    @property
    def help_url(self) -> str:
        """The app's page of metric definitions."""
        return self.link(HELP_PATH)

    @property
    def this_week(self) -> WeekKpis | None:
        """The KPIs of the reported week; None when no item was created in it."""
        return next((w for w in self.kpis.weeks if w.week == self.week), None)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the numbers table: the week's estimate and the period's, all translated."""

    name: str
    week: str
    overall: str


def format_metric(value: Metric | None, fmt: Format, *, locale: str) -> str:
    """'12.5% (9.1% to 16.8%, n=200)' in `locale`; an em dash when not measurable."""
    if value is None:
        return "—"
    gettext = translations(locale).gettext
    shown = {"value": fmt(value.value), "n": format_number(value.n, locale=locale)}
    if value.low == value.high:
        return gettext("%(value)s (n=%(n)s)") % shown
    interval = {"low": fmt(value.low), "high": fmt(value.high)}
    return gettext("%(value)s (%(low)s to %(high)s, n=%(n)s)") % (shown | interval)


def summary_rows(report: WeeklyReport, locale: str) -> list[Row]:
    """The headline numbers with their intervals, for the week and for the period to date."""
    week, overall = report.this_week, report.kpis.overall
    gettext = translations(locale).gettext
    share = partial(format_percent, locale=locale, digits=1)
    fine_share = partial(format_percent, locale=locale, digits=2)
    tenths = partial(format_number, locale=locale, digits=1)
    whole = partial(format_number, locale=locale)
    net_savings = gettext("Net savings (%(currency)s)") % {"currency": report.kpis.currency}
    pairs: list[tuple[str, Callable[[Kpis | None], Metric | None], Format]] = [
        (gettext("Agent accuracy"), lambda k: k.model.accuracy if k else None, share),
        (
            gettext("Auto-complete error (audited)"),
            lambda k: k.model.auto_error if k else None,
            fine_share,
        ),
        (gettext("Automation"), lambda k: k.product.automation if k else None, share),
        (gettext("Acceptance"), lambda k: k.product.acceptance if k else None, share),
        (
            gettext("Handling seconds per item"),
            lambda k: k.product.handling_seconds if k else None,
            tenths,
        ),
        (gettext("Hours saved"), lambda k: k.business.hours_saved if k else None, tenths),
        (net_savings, lambda k: k.business.net_savings if k else None, whole),
        (gettext("Reviews"), lambda k: k.flywheel.reviews if k else None, whole),
    ]
    return [
        Row(
            name,
            format_metric(pick(week), fmt, locale=locale),
            format_metric(pick(overall), fmt, locale=locale),
        )
        for name, pick, fmt in pairs
    ]


def render_weekly_report(report: WeeklyReport, *, locale: str = DEFAULT_LOCALE) -> str:
    """The full HTML page of `report` in `locale` ("en" or "ja")."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; use one of {', '.join(LOCALES)}")
    template = _environment(locale).get_template("weekly_report.html.j2")
    return template.render(
        report=report,
        rows=summary_rows(report, locale),
        recommendation=report.kpis.recommendation,
        charts=[Markup(chart) for chart in week_charts(report.kpis, locale)],
        definitions=definitions(locale),
    )


@cache
def _environment(locale: str) -> Environment:
    """The package's templates in one language, explaining reasons and warnings in it too."""
    env = translated_environment(PackageLoader("deshi.kpis", "templates"), locale)
    env.globals["explain"] = partial(explain, locale=locale)
    return env


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


def week_charts(report: KpiReport, locale: str) -> list[str]:
    """Learning curve, automation, auto error vs budget, handling time per arm, savings: the
    weekly report's charts, which the dashboard shows too."""
    gettext = translations(locale).gettext
    weeks = report.weeks
    share = partial(format_percent, locale=locale, digits=2, trim=True)
    amount = partial(format_number, locale=locale, digits=2, trim=True)
    over_weeks = week_chart(weeks, locale=locale)
    return [
        over_weeks(
            {gettext("accuracy"): week_series(weeks, lambda w: w.model.accuracy)},
            title=gettext("Learning curve: agent accuracy per week"),
            y_label=gettext("accuracy"),
            y_max=1.0,
            y_format=share,
        ),
        over_weeks(
            {gettext("automation"): week_series(weeks, lambda w: w.product.automation)},
            title=gettext("Automation per week"),
            y_label=gettext("auto-completed"),
            y_max=1.0,
            y_format=share,
        ),
        over_weeks(
            {
                gettext("auto error"): week_series(weeks, lambda w: w.model.auto_error),
                gettext("upper bound"): [
                    (x, None if w.model.auto_error is None else w.model.auto_error.high)
                    for x, w in zip(range(1, len(weeks) + 1), weeks, strict=True)
                ],
            },
            title=gettext("Audited auto-complete error per week (gaps: no audits)"),
            y_label=gettext("error of auto-completed"),
            hline=report.error_budget,
            hline_label=gettext("budget ε = %(budget)s")
            % {"budget": format_percent(report.error_budget, locale=locale, digits=2)},
            y_format=share,
        ),
        over_weeks(
            {arm_name(arm, locale=locale): week_series(weeks, _arm_handling(arm)) for arm in ARMS},
            title=gettext("Mean human handling time per item, by arm"),
            y_label=gettext("seconds"),
            y_format=amount,
        ),
        over_weeks(
            {
                gettext("money saved"): _cumulative(
                    weeks,
                    lambda w: w.business.money_saved.value if w.business.money_saved else None,
                ),
                gettext("error + running cost"): _cumulative(weeks, _costs),
            },
            title=gettext("Cumulative savings and costs (%(currency)s)")
            % {"currency": report.currency},
            y_label=report.currency,
            y_format=amount,
        ),
    ]
