"""Shapes the pages show, computed from service results: KPI cards and charts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deshi.charts import Point
from deshi.i18n import translations
from deshi.kpis.charts import week_chart, week_series
from deshi.kpis.models import KpiReport, Metric

__all__ = ["KpiCard", "charts", "kpi_cards"]

Kind = Literal["count", "percent", "seconds", "hours", "money", "ratio"]


@dataclass(frozen=True, slots=True)
class KpiCard:
    """One number on the dashboard; `key` is stable (tests and CSS), `title` is a msgid."""

    key: str
    title: str
    kind: Kind
    metric: Metric | None


def _n_(message: str) -> str:
    """Mark a msgid for extraction; it is translated when rendered."""
    return message


def kpi_cards(report: KpiReport) -> list[KpiCard]:
    """The headline KPIs of the whole period, model to business."""
    k = report.overall
    items = Metric(value=k.items, low=k.items, high=k.items, n=k.items)
    return [
        KpiCard("items", _n_("Items"), "count", items),
        KpiCard("reviews", _n_("Reviews"), "count", k.flywheel.reviews),
        KpiCard("accuracy", _n_("Agent accuracy"), "percent", k.model.accuracy),
        KpiCard("automation", _n_("Automation"), "percent", k.product.automation),
        KpiCard("acceptance", _n_("Suggestions accepted"), "percent", k.product.acceptance),
        KpiCard("auto_error", _n_("Auto-complete error"), "percent", k.model.auto_error),
        KpiCard("handling", _n_("Handling time (s)"), "seconds", k.product.handling_seconds),
        KpiCard("hours_saved", _n_("Hours saved"), "hours", k.business.hours_saved),
        KpiCard("net_savings", _n_("Net savings"), "money", k.business.net_savings),
    ]  # fmt: skip


def charts(report: KpiReport, locale: str) -> list[str]:
    """SVG charts of accuracy and automation per ISO week, titled in the page's language."""
    gettext = translations(locale).gettext
    weeks = report.weeks
    over_weeks = week_chart(weeks, locale=locale)

    def share(value: float) -> str:
        return f"{value:.0%}"

    def chart(name: str, points: list[Point], title: str, y_label: str) -> str:
        return over_weeks({name: points}, title=title, y_label=y_label, y_max=1.0, y_format=share)

    return [
        chart(
            gettext("accuracy"),
            week_series(weeks, lambda w: w.model.accuracy),
            gettext("Learning curve: agent accuracy per week"),
            gettext("accuracy"),
        ),
        chart(
            gettext("automation"),
            week_series(weeks, lambda w: w.product.automation),
            gettext("Automation per week"),
            gettext("auto-completed"),
        ),
    ]
