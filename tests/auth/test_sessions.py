"""Server-side browser sessions: they end on sign-out, for every session of a user at once, when
idle too long and at their absolute timeout; the clock is passed in, nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.auth import admin
from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import authenticate_token, create_user, issue_api_token
from deshi.auth.sessions import (
    SessionPolicy,
    end_session,
    end_sessions,
    resume_session,
    start_session,
)
from deshi.db.tables import User, UserSession
from deshi.errors import AuthenticationFailed

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=8))
CHEAP = PasswordHasher("fast-insecure")


def _user(session: Session, email: str = "ana@example.com") -> User:
    user = create_user(
        session,
        actor="user:0",
        email=email,
        display_name="Ana",
        password="a long enough password",
        password_hasher=CHEAP,
    )
    session.commit()
    return user


def _resume(session: Session, token: str, at: datetime) -> int | None:
    active = resume_session(session, token=token, policy=POLICY, now=at)
    session.commit()
    return active.user_id if active else None


def test_a_started_session_resumes_with_its_user_and_csrf_token(session: Session) -> None:
    user = _user(session)
    started = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    session.commit()
    active = resume_session(session, token=started.token, policy=POLICY, now=T0)
    assert active is not None
    assert (active.user_id, active.csrf) == (user.id, started.session.csrf)


def test_only_the_hash_of_the_token_is_stored(session: Session) -> None:
    started = start_session(session, user_id=_user(session).id, policy=POLICY, now=T0)
    session.commit()
    stored = session.scalars(select(UserSession.id)).all()
    assert len(stored) == 1 and started.token not in stored[0]


def test_an_unknown_token_resumes_nothing(session: Session) -> None:
    _user(session)
    assert _resume(session, "made-up", T0) is None


def test_signing_out_ends_the_session(session: Session) -> None:
    user = _user(session)
    started = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    end_session(session, token=started.token, now=T0)
    session.commit()
    assert _resume(session, started.token, T0 + timedelta(seconds=1)) is None


def test_end_sessions_ends_every_session_of_the_user_and_no_other(session: Session) -> None:
    ana, ben = _user(session), _user(session, "ben@example.com")
    phone, laptop = (start_session(session, user_id=ana.id, policy=POLICY, now=T0) for _ in "ab")
    bens = start_session(session, user_id=ben.id, policy=POLICY, now=T0)
    assert end_sessions(session, user_id=ana.id, now=T0) == 2
    session.commit()
    assert _resume(session, phone.token, T0) is None
    assert _resume(session, laptop.token, T0) is None
    assert _resume(session, bens.token, T0) == ben.id


def test_a_password_change_can_keep_the_session_that_made_it(session: Session) -> None:
    user = _user(session)
    here, elsewhere = (start_session(session, user_id=user.id, policy=POLICY, now=T0) for _ in "ab")
    assert end_sessions(session, user_id=user.id, keep_token=here.token, now=T0) == 1
    session.commit()
    assert _resume(session, here.token, T0) == user.id
    assert _resume(session, elsewhere.token, T0) is None


def test_an_idle_session_ends(session: Session) -> None:
    user = _user(session)
    started = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    session.commit()
    assert _resume(session, started.token, T0 + timedelta(minutes=29)) == user.id
    assert (
        _resume(session, started.token, T0 + timedelta(minutes=58)) == user.id
    )  # a use restarts the idle clock
    assert _resume(session, started.token, T0 + timedelta(minutes=88, seconds=1)) is None


def test_a_busy_session_still_ends_at_its_absolute_timeout(session: Session) -> None:
    user = _user(session)
    started = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    session.commit()
    at = T0
    while at < T0 + POLICY.absolute - timedelta(minutes=20):
        at += timedelta(minutes=20)
        assert _resume(session, started.token, at) == user.id
    assert _resume(session, started.token, T0 + POLICY.absolute) is None


def test_last_seen_is_written_at_most_once_a_minute(session: Session) -> None:
    user = _user(session)
    started = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    session.commit()
    resume_session(session, token=started.token, policy=POLICY, now=T0 + timedelta(seconds=59))
    assert not session.dirty  # nothing to write: no write lock taken
    session.commit()
    resume_session(session, token=started.token, policy=POLICY, now=T0 + timedelta(seconds=61))
    assert session.dirty
    session.commit()
    row = session.scalars(select(UserSession)).one()
    assert row.last_seen_at == T0 + timedelta(seconds=61)


def test_an_inactive_users_sessions_are_refused(session: Session) -> None:
    user = _user(session)
    started = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    user.is_active = False
    session.commit()
    assert _resume(session, started.token, T0) is None


def test_deactivation_stops_sessions_and_api_tokens(session: Session) -> None:
    user = _user(session)
    started = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    token = issue_api_token(session, actor="user:0", user_id=user.id, name="ci").plaintext
    session.commit()
    admin.deactivate_user(session, actor="user:0", user_id=user.id)
    session.commit()
    assert _resume(session, started.token, T0) is None
    with pytest.raises(AuthenticationFailed):
        authenticate_token(session, token=token)


def test_starting_a_session_forgets_the_users_ended_ones(session: Session) -> None:
    user = _user(session)
    old = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    end_session(session, token=old.token, now=T0)
    start_session(session, user_id=user.id, policy=POLICY, now=T0 + timedelta(minutes=1))
    session.commit()
    assert len(session.scalars(select(UserSession)).all()) == 1
