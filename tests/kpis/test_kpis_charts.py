"""KPIs over ISO weeks as charts: the shared x-axis of the weekly report and the dashboard."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from deshi.kpis.charts import week_axis, week_chart, week_series, week_ticks
from deshi.kpis.models import Metric, WeekKpis

WEEKS = [WeekKpis.model_construct(week=f"2026-W{number}") for number in (45, 46, 47)]


def test_week_axis_labels_whole_positions_with_their_week_and_nothing_else() -> None:
    label = week_axis(WEEKS)

    assert [label(x) for x in (1.0, 2.0, 3.0)] == ["2026-W45", "2026-W46", "2026-W47"]
    assert [label(x) for x in (0.0, 1.5, 2.5, 4.0)] == ["", "", "", ""]


def test_week_series_puts_week_i_at_x_i_and_leaves_gaps_where_not_measurable() -> None:
    accuracy = {"2026-W45": Metric(value=0.8, low=0.7, high=0.9, n=40), "2026-W47": None}

    points = week_series(WEEKS, lambda week: accuracy.get(week.week))

    assert points == [(1.0, 0.8), (2.0, None), (3.0, None)]


def test_week_chart_titles_the_x_axis_in_the_language_and_labels_the_weeks() -> None:
    over_weeks = week_chart(WEEKS, locale="ja")

    svg = over_weeks({"正解率": [(1.0, 0.5), (3.0, 0.7)]}, title="t", y_label="y", y_max=1.0)

    texts = [text.text for text in ET.fromstring(svg).iter("text")]
    assert "ISO週" in texts
    assert {"2026-W45", "2026-W46", "2026-W47"} <= set(texts)


def test_week_ticks_label_every_week_that_fits_and_always_the_newest() -> None:
    assert week_ticks(3) == [1.0, 2.0, 3.0]
    assert week_ticks(7) == [float(i) for i in range(1, 8)]
    assert week_ticks(12) == [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    assert week_ticks(30) == [5.0, 10.0, 15.0, 20.0, 25.0, 30.0]
    assert week_ticks(0) == []


def test_a_twelve_week_chart_labels_six_weeks_ending_with_the_newest() -> None:
    weeks = [WeekKpis.model_construct(week=f"2026-W{number:02d}") for number in range(1, 13)]

    svg = week_chart(weeks, locale="en")({"a": [(1.0, 0.5), (12.0, 0.7)]}, title="t", y_label="y")

    labels = [t.text for t in ET.fromstring(svg).iter("text") if (t.text or "").startswith("2026")]
    assert labels == ["2026-W02", "2026-W04", "2026-W06", "2026-W08", "2026-W10", "2026-W12"]
