"""KPIs over ISO weeks as line charts, for the weekly report and the dashboard alike.

Week i of the report's weeks (oldest first) is drawn at x = i, and the x-axis is labelled with
the weeks' keys ('2026-W47'): every week, or every k-th counted back from the newest when there
are more than fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

from deshi.charts import Point, line_chart
from deshi.i18n import translations
from deshi.kpis.models import Metric, WeekKpis

__all__ = ["week_axis", "week_chart", "week_series", "week_ticks"]

MAX_WEEK_LABELS = 7  # a label like "2026-W47" is ~60 px wide: 7 fit the 640 px chart with gaps


def week_axis(weeks: Sequence[WeekKpis]) -> Callable[[float], str]:
    """Tick labels: the ISO week of a whole-number position, nothing between weeks."""

    def label(x: float) -> str:
        index = round(x)
        if abs(x - index) > 1e-9 or not 1 <= index <= len(weeks):
            return ""
        return weeks[index - 1].week

    return label


def week_ticks(count: int) -> list[float]:
    """Positions of the labelled weeks among `count`: all of them when they fit, else every k-th,
    so that the newest week is always labelled."""
    step = max(1, math.ceil(count / MAX_WEEK_LABELS))
    return [float(index) for index in range(count, 0, -step)][::-1]


def week_series(
    weeks: Sequence[WeekKpis], pick: Callable[[WeekKpis], Metric | None]
) -> list[Point]:
    """One point per week: the picked metric's estimate, or a gap where it is not measurable."""
    points: list[Point] = []
    for index, week in enumerate(weeks, start=1):
        found = pick(week)
        points.append((float(index), None if found is None else found.value))
    return points


def week_chart(weeks: Sequence[WeekKpis], *, locale: str) -> partial[str]:
    """`line_chart` with the ISO weeks of `weeks` along the x-axis, titled in `locale`."""
    gettext = translations(locale).gettext
    return partial(
        line_chart,
        x_label=gettext("ISO week"),
        x_format=week_axis(weeks),
        x_ticks=week_ticks(len(weeks)),
    )
