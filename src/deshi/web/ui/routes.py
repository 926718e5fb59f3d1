"""The UI's pages: sign in and out, home, process dashboard, item lineage (the audit log: `audit`).

Each route parses, calls a service and renders a template; the reviewer workbench's fetch
endpoints live in `workbench`. `/processes/{id}` and `/items/{id}` are the API's paths too:
browser navigations to them are served by the `/ui/...` routes here (see `negotiate`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from deshi.auth.service import authenticate_password
from deshi.db.tables import Process
from deshi.errors import AuthenticationFailed
from deshi.history.golive import latest_golive
from deshi.i18n import LOCALES
from deshi.items.service import get_item
from deshi.kpis.context import parse_week
from deshi.kpis.definitions import HELP_PATH, definitions
from deshi.kpis.drafting_report import process_drafting_report
from deshi.kpis.kpi_report import kpi_report_for
from deshi.kpis.process_warnings import warnings_for
from deshi.kpis.records import iso_week
from deshi.kpis.weekly_report import weekly_report_html_for
from deshi.permissions import Action, Principal, can
from deshi.processes.label_names import namer
from deshi.processes.service import get_process_for, list_processes_for
from deshi.reviews.service import UNDO_WINDOW_SECONDS
from deshi.web.api.knowledge import KnowledgeDep
from deshi.web.deps import (
    KpiRefresherDep,
    LoginThrottleDep,
    PasswordHasherDep,
    ReadSessionDep,
    SessionDep,
    client_address,
    now_of,
)
from deshi.web.page_headers import page_headers
from deshi.web.params import PathId
from deshi.web.ui import views
from deshi.web.ui.deps import CsrfDep, ViewerDep, page_locale, render, sessions_of
from deshi.web.ui.session import LANG_COOKIE, SessionData

__all__ = ["router"]

router = APIRouter(include_in_schema=False)  # outside the API: errors are pages (web.errors)


def _local(target: str | None) -> str:
    """`target` if it is a path on this site, else the home page (no open redirects)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    """The sign-in form (with an anonymous session that carries its CSRF token)."""
    sessions = sessions_of(request)
    session = sessions.read(request)
    if session is not None and session.user_id is not None:
        return RedirectResponse(_local(next), status_code=303)
    session = session or SessionData.anonymous()
    response = render(
        request, "login.html", locale=page_locale(request), session=session, next=_local(next)
    )
    sessions.write_anonymous(request, response, session)
    return response


@router.post("/login", dependencies=[CsrfDep])
def login(
    request: Request,
    db: SessionDep,
    password_hasher: PasswordHasherDep,
    throttle: LoginThrottleDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; on success start a new session (a new token and CSRF token) and go
    on. Throttled: TooManyAttempts becomes the sign-in page with a 429 (web.errors)."""
    try:
        user = authenticate_password(
            db, email=email, password=password, password_hasher=password_hasher,
            address=client_address(request), throttle=throttle, now=now_of(request),
        )  # fmt: skip
    except AuthenticationFailed:  # the failure is counted: this returns, so it is committed
        locale = page_locale(request)
        return render(
            request, "login.html", locale=locale, status_code=401, failed=True,
            email=email, next=_local(next),
        )  # fmt: skip
    response = RedirectResponse(_local(next), status_code=303)
    sessions_of(request).sign_in(request, response, db, user.id)
    return response


@router.post("/logout", dependencies=[CsrfDep])
def logout(
    request: Request, db: SessionDep, everywhere: Annotated[bool, Form()] = False
) -> Response:
    """End the session on the server: its cookie is refused from now on, wherever it is; with
    `everywhere`, every session of the user, in every browser."""
    response = RedirectResponse("/login", status_code=303)
    sessions_of(request).sign_out(request, response, db, everywhere=everywhere)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/") -> Response:
    """Remember the chosen UI language in a cookie and go back."""
    response = RedirectResponse(_local(next), status_code=303)
    if code in LOCALES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response


def _home_of(principal: Principal, process: Process) -> str:
    """Reviewers start at the workbench, everyone else at the dashboard."""
    department = process.department_id
    if can(principal, Action.REVIEW, department) and not can(
        principal, Action.READ_AUDIT, department
    ):
        return f"/processes/{process.id}/work"
    return f"/processes/{process.id}"


@router.get("/", response_class=HTMLResponse)
def home(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """The viewer's first process (workbench or dashboard), or an empty home page."""
    processes = list_processes_for(db, principal=viewer.principal)
    if processes:
        return RedirectResponse(_home_of(viewer.principal, processes[0]), status_code=303)
    if viewer.principal.is_workspace_admin:  # a new workspace: the first-run steps
        return RedirectResponse("/admin", status_code=303)
    manages = any(can(viewer.principal, Action.MANAGE_PROCESS, g.department_id)
                  for g in viewer.principal.grants)  # fmt: skip
    return render(
        request, "home.html", locale=viewer.locale, viewer=viewer, processes=[], manages=manages
    )


@router.get("/processes/{process_id}/work", response_class=HTMLResponse)
def workbench(process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """The reviewer workbench; the items themselves arrive by fetch (see `workbench`)."""
    process = get_process_for(db, viewer.principal, process_id, Action.READ)
    return render(
        request,
        "workbench.html",
        locale=viewer.locale,
        viewer=viewer,
        process=process,
        processes=list_processes_for(db, principal=viewer.principal),
        can_review=can(viewer.principal, Action.REVIEW, process.department_id),
        undo_seconds=UNDO_WINDOW_SECONDS,
    )


@router.get("/ui/processes/{process_id}", response_class=HTMLResponse)
def dashboard(
    process_id: PathId,
    request: Request,
    viewer: ViewerDep,
    db: ReadSessionDep,
    refresher: KpiRefresherDep,
) -> Response:
    """KPI cards, charts, warnings and the scale/hold/stop recommendation."""
    process = get_process_for(db, viewer.principal, process_id, Action.READ)
    report = kpi_report_for(db, viewer.principal, process_id, refresher=refresher)
    drafting = process_drafting_report(db, process, refresher=refresher)
    return render(
        request,
        "dashboard.html",
        locale=viewer.locale,
        viewer=viewer,
        process=process,
        processes=list_processes_for(db, principal=viewer.principal),
        report=report,
        cards=views.kpi_cards(report),
        charts=[Markup(chart) for chart in views.charts(report, viewer.locale)],
        warnings=warnings_for(db, viewer.principal, process_id, refresher=refresher),
        golive=latest_golive(db, process),
        can_manage=can(viewer.principal, Action.MANAGE_PROCESS, process.department_id),
        drafting=drafting,
        drafting_cards=views.drafting_cards(drafting),
        week=iso_week(datetime.now(UTC)),
        can_review=can(viewer.principal, Action.REVIEW, process.department_id),
        definitions={d.key: d for d in definitions(viewer.locale)},
        help_url=HELP_PATH,
    )


@router.get(HELP_PATH, response_class=HTMLResponse)
def metrics_help(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """What every number on the dashboard and in the weekly report means (one source:
    `deshi.kpis.definitions`)."""
    return render(
        request,
        "metrics_help.html",
        locale=viewer.locale,
        viewer=viewer,
        processes=list_processes_for(db, principal=viewer.principal),
        definitions=definitions(viewer.locale),
    )


@router.get("/ui/processes/{process_id}/report", response_class=HTMLResponse)
def weekly_report(
    process_id: PathId,
    viewer: ViewerDep,
    db: ReadSessionDep,
    refresher: KpiRefresherDep,
    week: Annotated[str | None, Query()] = None,
) -> Response:
    """The weekly report (the same page the API serves), for the signed-in user, in their
    UI language."""
    chosen = parse_week(week) if week else iso_week(datetime.now(UTC))
    html = weekly_report_html_for(
        db, viewer.principal, process_id, chosen, locale=viewer.locale, refresher=refresher
    )
    return HTMLResponse(html, headers=page_headers({"Content-Language": viewer.locale}))


@router.get("/ui/items/{item_id}", response_class=HTMLResponse)
def item_page(
    item_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, index: KnowledgeDep
) -> Response:
    """One item with its lineage: decision, evidence (cases and passages) and every review."""
    item = get_item(db, principal=viewer.principal, item_id=item_id, index=index)
    process = get_process_for(db, viewer.principal, item.process_id, Action.READ)
    return render(
        request,
        "item.html",
        locale=viewer.locale,
        viewer=viewer,
        item=item,
        process=process,
        label_name=namer(process.label_names, viewer.locale),
    )
