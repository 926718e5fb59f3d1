"""The browser session: a signed cookie that names a session kept on the server.

A signed-in cookie carries only the session's random token; the `sessions` row it names
(`deshi.auth.sessions`) holds the user and the CSRF token, so signing out, a password change or
reset and a deactivation end the session for good, and idle and absolute timeouts apply. Before
sign-in, an anonymous cookie carries just a CSRF token that protects the login form (no row: an
anonymous visitor never writes to the database).

The cookie is HttpOnly and SameSite=Lax, and Secure as `DESHI_SECURE_COOKIES` says (by default
when the request arrived over HTTPS). Pages repeat the CSRF token in every form (`csrf_token`)
and every fetch (`X-CSRF-Token`), and each state-changing UI request must echo it (a
session-bound synchronizer token). Signing (HMAC-SHA256 from the standard library) lets forged
or stale cookies be refused without a database read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.sessions import (
    SessionPolicy,
    end_session,
    end_sessions,
    resume_session,
    start_session,
)
from deshi.db import transaction
from deshi.settings import SecureCookies

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LANG_COOKIE",
    "BrowserSessions",
    "SessionData",
    "Signer",
    "csrf_ok",
]

COOKIE = "deshi_session"
LANG_COOKIE = "deshi_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_CACHE = "deshi_session"  # request.state attribute: a request reads its session once


@dataclass(frozen=True, slots=True)
class SessionData:
    """What a request's cookie stands for: the signed-in user (None before sign-in), the CSRF
    token, and the session token of a signed-in session (None for an anonymous one)."""

    user_id: int | None
    csrf: str
    token: str | None = None

    @classmethod
    def anonymous(cls) -> SessionData:
        """A fresh anonymous session with a new CSRF token (for the login form)."""
        return cls(user_id=None, csrf=secrets.token_urlsafe(32))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and verifies cookie payloads (small JSON objects) with one secret key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest())

    def dumps(self, body: dict[str, Any]) -> str:
        """The signed cookie value of a payload."""
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac(payload)}"

    def loads(self, value: str | None) -> dict[str, Any] | None:
        """The payload of a cookie value; None when missing, forged or malformed."""
        if not value or "." not in value:
            return None
        payload, _, mac = value.partition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
        except ValueError:
            return None
        return body if isinstance(body, dict) else None


@dataclass(frozen=True, slots=True)
class BrowserSessions:
    """The UI's sessions: reads, starts and ends them, and writes the cookie."""

    signer: Signer
    policy: SessionPolicy
    secure_cookies: SecureCookies = "auto"

    def read(self, request: Request) -> SessionData | None:
        """The request's valid session, if any (read once per request)."""
        cached: SessionData | bool | None = getattr(request.state, _CACHE, False)
        if cached is not False:
            return cached if isinstance(cached, SessionData) else None
        data = self._read(request)
        setattr(request.state, _CACHE, data)
        return data

    def _read(self, request: Request) -> SessionData | None:
        body = self.signer.loads(request.cookies.get(COOKIE))
        if body is None:
            return None
        token, csrf, issued = body.get("s"), body.get("c"), body.get("t")
        if isinstance(token, str):
            with transaction(_factory(request)) as db:
                active = resume_session(db, token=token, policy=self.policy, now=_now(request))
            return SessionData(active.user_id, active.csrf, token) if active else None
        if isinstance(csrf, str) and isinstance(issued, int | float):
            fresh = _now(request).timestamp() - issued < self.policy.absolute.total_seconds()
            return SessionData(None, csrf) if fresh else None
        return None

    def sign_in(self, request: Request, response: Response, db: Session, user_id: int) -> None:
        """Start a new session for the user (a new token and CSRF token) and set its cookie."""
        started = start_session(db, user_id=user_id, policy=self.policy, now=_now(request))
        self._set_cookie(request, response, {"s": started.token})

    def sign_out(
        self, request: Request, response: Response, db: Session, *, everywhere: bool = False
    ) -> None:
        """End the request's session on the server (`everywhere`: every session of its user)
        and give the browser an anonymous one."""
        current = self.read(request)
        if current is not None and current.token is not None:
            if everywhere and current.user_id is not None:
                end_sessions(db, user_id=current.user_id, now=_now(request))
            else:
                end_session(db, token=current.token, now=_now(request))
        self.write_anonymous(request, response, SessionData.anonymous())

    def write_anonymous(self, request: Request, response: Response, data: SessionData) -> None:
        """Set the cookie of an anonymous session (the login form's CSRF token)."""
        issued = int(_now(request).timestamp())
        self._set_cookie(request, response, {"c": data.csrf, "t": issued})

    def secure(self, request: Request) -> bool:
        """Whether the cookie gets the Secure flag on this request."""
        if self.secure_cookies == "auto":
            return request.url.scheme == "https"
        return self.secure_cookies == "always"

    def _set_cookie(self, request: Request, response: Response, body: dict[str, Any]) -> None:
        response.set_cookie(
            COOKIE,
            self.signer.dumps(body),
            max_age=int(self.policy.absolute.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.secure(request),
            path="/",
        )


def _now(request: Request) -> datetime:
    """The app's clock (`app.state.clock`: utcnow, or a test's clock)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def csrf_ok(session: SessionData | None, sent: str | None) -> bool:
    """True when the request echoed its session's CSRF token."""
    return session is not None and bool(sent) and hmac.compare_digest(session.csrf, sent or "")
