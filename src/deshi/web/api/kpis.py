"""KPI routes: a process's KPIs with intervals, its early warnings and its weekly HTML report."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse

from deshi.i18n import negotiate, parse_locale
from deshi.kpis.context import parse_arm
from deshi.kpis.drafting import DraftingReport
from deshi.kpis.drafting_report import drafting_report_for
from deshi.kpis.kpi_report import kpi_report_for
from deshi.kpis.models import KpiReport, WarningPublic
from deshi.kpis.process_warnings import warnings_for
from deshi.kpis.weekly_report import weekly_report_html_for
from deshi.web.deps import KpiRefresherDep, PrincipalDep, ReadSessionDep
from deshi.web.page_headers import page_headers
from deshi.web.params import PathId

router = APIRouter(prefix="/processes", tags=["kpis"])

LANG_HELP = (
    "en or ja (ja-JP and the like name their language); without it, the caller's saved "
    "language, else the best match of the Accept-Language header, else en. Any other value is "
    "a 422 validation_failed."
)


@router.get("/{process_id}/kpis", response_model=KpiReport)
def get_kpis(
    process_id: PathId,
    session: ReadSessionDep,
    principal: PrincipalDep,
    refresher: KpiRefresherDep,
    start: Annotated[date | None, Query(alias="from", description="First day (UTC).")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (UTC).")] = None,
    arm: Annotated[str | None, Query(description="human_only, assisted or ai_led.")] = None,
) -> object:
    """The three KPI layers and the learning flywheel, overall and per ISO week. On a large
    process `deshi serve` may answer with the last computed report while it computes the new
    one: `as_of` is then the last moment those figures were current (docs/kpis.md, "A slow
    read is refreshed in the background")."""
    return kpi_report_for(
        session,
        principal,
        process_id,
        start=start,
        end=end,
        arm=parse_arm(arm),
        refresher=refresher,
    )


@router.get("/{process_id}/drafting", response_model=DraftingReport)
def get_drafting_kpis(
    process_id: PathId,
    session: ReadSessionDep,
    principal: PrincipalDep,
    refresher: KpiRefresherDep,
    start: Annotated[date | None, Query(alias="from", description="First day (UTC).")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (UTC).")] = None,
    arm: Annotated[str | None, Query(description="human_only, assisted or ai_led.")] = None,
) -> object:
    """Drafting KPIs with intervals, overall, per ISO week and per arm: faithfulness, drafts
    with an unsupported claim, drafts rejected or edited, acceptance, median edit distance and
    guardrail firings (docs/kpis.md)."""
    return drafting_report_for(
        session,
        principal,
        process_id,
        start=start,
        end=end,
        arm=parse_arm(arm),
        refresher=refresher,
    )


@router.get("/{process_id}/warnings", response_model=list[WarningPublic])
def get_warnings(
    process_id: PathId,
    session: ReadSessionDep,
    principal: PrincipalDep,
    refresher: KpiRefresherDep,
) -> object:
    """The early warnings that fire now, most severe first."""
    return warnings_for(session, principal, process_id, refresher=refresher)


@router.get("/{process_id}/report", response_class=HTMLResponse)
def get_report(
    process_id: PathId,
    session: ReadSessionDep,
    principal: PrincipalDep,
    refresher: KpiRefresherDep,
    week: Annotated[str, Query(description="ISO week, e.g. 2026-W47.")],
    lang: Annotated[str | None, Query(description=LANG_HELP)] = None,
    accept_language: Annotated[str, Header()] = "",
) -> HTMLResponse:
    """The weekly report: one self-contained HTML page, in English or Japanese."""
    if lang:
        locale = parse_locale(lang)
    else:  # the order of the web UI: the caller's saved language, then the browser's
        locale = negotiate(
            chosen=None, user_locale=principal.locale, accept_language=accept_language
        )
    html = weekly_report_html_for(
        session, principal, process_id, week, locale=locale, refresher=refresher
    )
    return HTMLResponse(
        html, headers=page_headers({"Content-Language": locale, "Vary": "Accept-Language"})
    )
