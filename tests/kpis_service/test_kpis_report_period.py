"""The weekly report marks a partial week, links back into the app and carries the metric
definitions of the help page; the recommendation's period knows when its last week is partial."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from kpi_world import KpiWorld
from markupsafe import escape
from sqlalchemy.orm import Session, sessionmaker

from deshi.kpis.context import day_start, get_process, week_bounds
from deshi.kpis.definitions import definitions
from deshi.kpis.kpi_report import kpi_report
from deshi.kpis.weekly_report import weekly_report_html


def _within_last_week(world: KpiWorld) -> tuple[str, object]:
    week = world.weeks[-1]
    monday, _ = week_bounds(week)
    midweek = day_start(monday + timedelta(days=3))
    assert midweek is not None
    return week, midweek


def test_a_report_made_before_its_week_ended_is_marked_partial(
    session_factory: sessionmaker[Session], world: KpiWorld
) -> None:
    week, midweek = _within_last_week(world)
    with session_factory() as session:
        process = get_process(session, world.process)
        during = weekly_report_html(session, process, week, now=midweek)  # type: ignore[arg-type]
        after = weekly_report_html(session, process, week)
    assert 'id="partial"' in during and "Partial week" in during
    assert f"<th>{week} (partial)</th>" in during
    assert 'id="partial"' not in after


def test_the_period_of_the_recommendation_says_its_last_week_is_partial(
    session_factory: sessionmaker[Session], world: KpiWorld
) -> None:
    _, midweek = _within_last_week(world)
    with session_factory() as session:
        process = get_process(session, world.process)
        during = kpi_report(session, process, now=midweek)  # type: ignore[arg-type]
        after = kpi_report(session, process)
    assert during.recommendation.period.partial is True
    assert after.recommendation.period.partial is False
    assert after.recommendation.period.last_week == world.weeks[-1]


def test_the_report_links_back_into_the_app_relative_to_its_root(
    client: TestClient, world: KpiWorld
) -> None:
    page = client.get(
        f"/processes/{world.process}/report",
        params={"week": world.weeks[-1]},
        headers=world.auth("owner"),
    ).text
    assert f'href="/ui/processes/{world.process}"' in page
    assert 'href="/ui/help/metrics"' in page
    assert "docs/kpis.md" not in page


def test_the_report_carries_the_help_pages_definitions_in_its_language(
    client: TestClient, world: KpiWorld
) -> None:
    for lang in ("en", "ja"):
        page = client.get(
            f"/processes/{world.process}/report",
            params={"week": world.weeks[-1], "lang": lang},
            headers=world.auth("owner"),
        ).text
        for definition in definitions(lang):
            assert f'<dt id="def-{definition.key}">{escape(definition.name)}</dt>' in page
            assert f"<dd>{escape(definition.text)}</dd>" in page
