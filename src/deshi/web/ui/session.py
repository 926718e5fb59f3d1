"""The browser session: an HMAC-signed cookie holding the user id and a CSRF token.

The cookie is HttpOnly and SameSite=Lax; it carries no secret but the CSRF token, which the
pages repeat in every form (`csrf_token`) and every fetch (`X-CSRF-Token`), and which each
state-changing UI request must echo (a session-bound synchronizer token). An anonymous session
(user None) exists only to protect the login form. Signing uses HMAC-SHA256 from the standard
library, so no extra dependency is needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LANG_COOKIE",
    "MAX_AGE_SECONDS",
    "SessionData",
    "Signer",
    "csrf_ok",
]

COOKIE = "deshi_session"
LANG_COOKIE = "deshi_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MAX_AGE_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class SessionData:
    """What the cookie holds: the signed-in user (None before login) and the CSRF token."""

    user_id: int | None
    csrf: str
    issued_at: int

    @classmethod
    def new(cls, user_id: int | None) -> SessionData:
        """A fresh session with a new CSRF token (rotated at login and logout)."""
        return cls(user_id=user_id, csrf=secrets.token_urlsafe(32), issued_at=int(time.time()))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and verifies session cookies with one secret key."""

    def __init__(self, secret: bytes, *, secure: bool = False) -> None:
        self._secret = secret
        self._secure = secure

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest())

    def dumps(self, data: SessionData) -> str:
        """The cookie value of a session."""
        body = {"u": data.user_id, "c": data.csrf, "t": data.issued_at}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac(payload)}"

    def loads(self, value: str | None, *, now: float | None = None) -> SessionData | None:
        """The session in a cookie value; None when missing, forged, malformed or expired."""
        if not value or "." not in value:
            return None
        payload, _, mac = value.partition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            data = SessionData(user_id=body["u"], csrf=str(body["c"]), issued_at=int(body["t"]))
        except (ValueError, KeyError, TypeError):
            return None
        if (now if now is not None else time.time()) - data.issued_at > MAX_AGE_SECONDS:
            return None
        return data

    def read(self, request: Request) -> SessionData | None:
        """The request's valid session, if any."""
        return self.loads(request.cookies.get(COOKIE))

    def write(self, response: Response, data: SessionData) -> None:
        """Set the session cookie on a response."""
        response.set_cookie(
            COOKIE,
            self.dumps(data),
            max_age=MAX_AGE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=self._secure,
            path="/",
        )


def csrf_ok(session: SessionData | None, sent: str | None) -> bool:
    """True when the request echoed its session's CSRF token."""
    return session is not None and bool(sent) and hmac.compare_digest(session.csrf, sent or "")
