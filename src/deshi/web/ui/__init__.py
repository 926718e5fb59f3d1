"""The browser UI: server-rendered pages (Jinja2, Babel for English and Japanese), a small
vendored script for the keyboard-first reviewer workbench, and a session cookie that names a
session kept on the server.

`install_ui(app)` adds it to the API app. The UI shares the API's services and permission
checks; it only adds the cookie session (see `session`) in place of API tokens.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from deshi.auth.sessions import SessionPolicy
from deshi.auth.throttle import ThrottlePolicy
from deshi.settings import SecureCookies, Settings
from deshi.web.ui import account, admin, audit, data_policy, routes, webhooks, workbench
from deshi.web.ui.session import BrowserSessions, Signer

__all__ = ["BrowserNavigation", "install_ui", "login_throttle", "session_policy"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
logger = logging.getLogger("deshi.web")

# The API's GET paths that a browser navigation should receive as a page.
_SHARED_PATHS = re.compile(r"/(processes|items)/\d+")


class BrowserNavigation:
    """Serve a browser's navigation to `/processes/{id}` or `/items/{id}` (an HTML Accept and
    no Authorization header) from the page at `/ui/...`; API clients keep the JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path: str = scope["path"]
            if _SHARED_PATHS.fullmatch(path):
                headers = dict(scope["headers"])
                if b"authorization" not in headers and b"text/html" in headers.get(b"accept", b""):
                    scope = {**scope, "path": "/ui" + path, "raw_path": b"/ui" + path.encode()}
        await self.app(scope, receive, send)


def install_ui(
    app: FastAPI,
    *,
    secret_key: str | None = None,
    sessions: SessionPolicy | None = None,
    secure_cookies: SecureCookies = "auto",
) -> None:
    """Add the pages, the workbench endpoints and /static to `app`; session cookies are signed
    with `_session_key(secret_key)`, sessions live as `sessions` says (default: 2 hours idle,
    12 hours in all) and cookies are Secure as `secure_cookies` says."""
    app.state.ui_sessions = BrowserSessions(
        Signer(_session_key(secret_key)), sessions or SessionPolicy(), secure_cookies
    )
    app.include_router(routes.router)
    app.include_router(audit.router)
    app.include_router(admin.router)
    app.include_router(workbench.router)
    app.include_router(webhooks.router)
    app.include_router(data_policy.router)
    app.include_router(account.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BrowserNavigation)


def session_policy(settings: Settings) -> SessionPolicy:
    """The settings' idle and absolute session timeouts."""
    return SessionPolicy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_max_hours),
    )


def login_throttle(settings: Settings) -> ThrottlePolicy:
    """The settings' login throttling."""
    return ThrottlePolicy(
        free_per_account=settings.login_free_failures_per_account,
        free_per_address=settings.login_free_failures_per_address,
        max_delay=timedelta(seconds=settings.login_max_delay_seconds),
    )


def _session_key(secret_key: str | None) -> bytes:
    """The session signing key: `secret_key` (the `secret_key` setting), else a random one."""
    if secret_key:
        return secret_key.encode("utf-8")
    logger.warning(
        "DESHI_SECRET_KEY is not set: UI sessions are signed with a random key, so they end "
        "when the server restarts and are not valid on other server processes"
    )
    return secrets.token_bytes(32)
