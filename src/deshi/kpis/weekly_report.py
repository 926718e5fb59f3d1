"""The weekly report of a process: an ISO week's KPIs, recommendation and warnings as one
self-contained HTML page (rendered by `deshi.kpis.report`).

`weekly_report_html` serves operators (the CLI); `weekly_report_html_for` checks that the
principal may read the process (NotFound for departments they cannot see).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import Process
from deshi.i18n import DEFAULT_LOCALE
from deshi.kpis.context import day_start, parse_week, week_bounds
from deshi.kpis.kpi_report import kpi_report
from deshi.kpis.process_warnings import process_warnings
from deshi.kpis.refresh import KpiRefresher
from deshi.kpis.report import WeeklyReport, render_weekly_report
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = ["weekly_report_html", "weekly_report_html_for"]


def weekly_report_html(
    session: Session,
    process: Process,
    week: str,
    *,
    locale: str = DEFAULT_LOCALE,
    now: datetime | None = None,
    base_url: str = "",
    refresher: KpiRefresher | None = None,
) -> str:
    """The self-contained HTML report of an ISO week in `locale`: KPIs from the start to that
    week's end, the recommendation then, and the warnings as of the week's end (or now, if
    sooner). A week not over at `now` is marked partial. Its links lead back into the app at
    `base_url`, or relative to the app's root when it is empty (right when the app serves it).
    `refresher`: see `kpi_report`."""
    week = parse_week(week)
    monday, sunday = week_bounds(week)
    now = now or utcnow()
    as_of = min(now, day_start(sunday, after=True) or now)
    report = WeeklyReport(
        process_name=process.name,
        week=week,
        monday=monday,
        sunday=sunday,
        kpis=kpi_report(session, process, end=sunday, now=now, refresher=refresher),
        warnings=process_warnings(session, process, now=as_of, refresher=refresher),
        generated_at=now,
        base_url=base_url,
    )
    return render_weekly_report(report, locale=locale)


def weekly_report_html_for(
    session: Session,
    principal: Principal,
    process_id: int,
    week: str,
    *,
    locale: str = DEFAULT_LOCALE,
    refresher: KpiRefresher | None = None,
) -> str:
    """`weekly_report_html` for a principal who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return weekly_report_html(session, process, week, locale=locale, refresher=refresher)
