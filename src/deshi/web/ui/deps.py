"""What every UI request needs: the signed-in viewer, the language, CSRF checks, rendering.

Errors raised here (LoginRequired, PermissionDenied) become pages, redirects or problem+json
in `deshi.web.errors`, like every other error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from deshi.auth.service import load_principal
from deshi.db import transaction
from deshi.db.tables import User
from deshi.errors import LoginRequired, PermissionDenied
from deshi.i18n import negotiate
from deshi.permissions import Principal
from deshi.web.page_headers import page_headers
from deshi.web.ui.i18n import environment
from deshi.web.ui.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    LANG_COOKIE,
    BrowserSessions,
    SessionData,
    csrf_ok,
)

__all__ = [
    "CsrfDep",
    "FormDep",
    "Viewer",
    "ViewerDep",
    "page_locale",
    "render",
    "sessions_of",
]


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user as the pages need them."""

    principal: Principal
    display_name: str
    locale: str
    session: SessionData
    must_change_password: bool = False  # signed in with a one-time password: the banner shows


def sessions_of(request: Request) -> BrowserSessions:
    """The app's browser sessions (set by install_ui)."""
    sessions: BrowserSessions = request.app.state.ui_sessions
    return sessions


def page_locale(request: Request, user_locale: str | None = None) -> str:
    """The language of this request's pages."""
    return negotiate(
        chosen=request.cookies.get(LANG_COOKIE),
        user_locale=user_locale,
        accept_language=request.headers.get("accept-language", ""),
    )


def get_viewer(request: Request) -> Viewer:
    """The signed-in, active user with their grants; LoginRequired otherwise (also when the
    session was signed out, ended or timed out)."""
    data = sessions_of(request).read(request)
    if data is None or data.user_id is None:
        raise LoginRequired()
    factory: sessionmaker[Session] = request.app.state.session_factory
    with transaction(factory) as session:
        user = session.get(User, data.user_id)
        if user is None or not user.is_active:
            raise LoginRequired()
        principal = load_principal(session, user.id)
        locale = page_locale(request, user.locale)
        return Viewer(principal, user.display_name, locale, data, user.must_change_password)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request that does not echo its session's CSRF token.

    Async only to read a form body; the session lookup is a blocking database call, so it runs
    in the threadpool: on the event loop it would stall every request, including the one
    holding SQLite's write lock, which then could not commit (a deadlock until busy_timeout)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    session = await run_in_threadpool(sessions_of(request).read, request)
    if not csrf_ok(session, sent):
        raise PermissionDenied("the form has expired or was not sent by this site: reload it")


async def form_fields(request: Request) -> dict[str, str]:
    """The request's form fields that are text (file fields dropped), read by an async
    dependency so the route itself can be a plain function run in the threadpool."""
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


FormDep = Annotated[dict[str, str], Depends(form_fields)]


CsrfDep = Depends(check_csrf)


def render(
    request: Request,
    template: str,
    *,
    locale: str,
    viewer: Viewer | None = None,
    session: SessionData | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A rendered template with the common context (viewer, CSRF token, current path);
    `session` is the one being started when the request came without one."""
    if session is None:
        session = viewer.session if viewer is not None else sessions_of(request).read(request)
    html = (
        environment(locale)
        .get_template(template)
        .render(
            viewer=viewer,
            csrf_token=session.csrf if session is not None else "",
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=page_headers())
