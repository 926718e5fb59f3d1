"""Browser sessions kept on the server: start, resume, end one, end all of a user's.

The browser holds only a random token (256 bits); the `sessions` row, found by the token's
sha256, holds the user, the CSRF token and the session's times. A session ends when it is
revoked (sign-out, `end_sessions`), when it was not used for `SessionPolicy.idle`, or
`SessionPolicy.absolute` after it started, whichever comes first; and it is refused while its
user is inactive.

`last_seen_at` is written at most once per `SessionPolicy.touch_every` per session, so reading
pages does not take SQLite's write lock on every request; the idle timeout is therefore exact
to within that resolution.

Every function takes `now` so that tests drive the clock; callers pass nothing in production.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import User, UserSession

__all__ = [
    "ActiveSession",
    "SessionPolicy",
    "StartedSession",
    "end_session",
    "end_sessions",
    "resume_session",
    "start_session",
]


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long sessions live: unused for `idle`, or `absolute` after sign-in, ends them."""

    idle: timedelta = timedelta(hours=2)
    absolute: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)  # resolution of last_seen_at


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A valid session as a request sees it."""

    user_id: int
    csrf: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StartedSession:
    """A new session and the token for the cookie (never stored, only its hash)."""

    token: str
    session: ActiveSession


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(
    session: Session, *, user_id: int, policy: SessionPolicy, now: datetime | None = None
) -> StartedSession:
    """Store a new session for the user (new token, new CSRF token) and forget the user's
    ended ones."""
    now = now or utcnow()
    _forget_ended(session, user_id=user_id, now=now, policy=policy)
    token = secrets.token_urlsafe(32)
    row = UserSession(
        id=_session_id(token),
        user_id=user_id,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
    )
    session.add(row)
    session.flush()
    return StartedSession(token, ActiveSession(user_id, row.csrf, row.expires_at))


def resume_session(
    session: Session, *, token: str, policy: SessionPolicy, now: datetime | None = None
) -> ActiveSession | None:
    """The valid session of this token, marking it used; None when it is unknown, revoked,
    idle too long, past its absolute timeout, or its user is inactive."""
    now = now or utcnow()
    found = session.execute(
        select(UserSession, User.is_active)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.id == _session_id(token))
    ).one_or_none()
    if found is None:
        return None
    row, user_active = found
    if (
        not user_active
        or row.revoked_at is not None
        or now >= row.expires_at
        or now - row.last_seen_at >= policy.idle
    ):
        return None
    if now - row.last_seen_at >= policy.touch_every:
        row.last_seen_at = now
    return ActiveSession(row.user_id, row.csrf, row.expires_at)


def end_session(session: Session, *, token: str, now: datetime | None = None) -> None:
    """Revoke the session of this token (signing out); nothing happens for an unknown token."""
    session.execute(
        update(UserSession)
        .where(UserSession.id == _session_id(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )


def end_sessions(
    session: Session, *, user_id: int, keep_token: str | None = None, now: datetime | None = None
) -> int:
    """Revoke every session of a user at once — after a password change or reset, or a
    deactivation — except the one of `keep_token` (the session that changed its own password);
    the number revoked. API tokens are not sessions: an inactive user's tokens are refused by
    `deshi.auth.service.authenticate_token`."""
    statement = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep_token is not None:
        statement = statement.where(UserSession.id != _session_id(keep_token))
    result = session.execute(statement.values(revoked_at=now or utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def _forget_ended(session: Session, *, user_id: int, now: datetime, policy: SessionPolicy) -> None:
    """Delete the user's sessions that can never be valid again, so the table stays small."""
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user_id,
            or_(
                UserSession.revoked_at.is_not(None),
                UserSession.expires_at <= now,
                UserSession.last_seen_at <= now - policy.idle,
            ),
        )
    )
