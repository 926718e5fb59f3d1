"""A person changes their own password: the current one proves it is them, the new one follows
the length rule and differs, the other browser sessions end, and the audit log records the change
without any password."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.auth import admin
from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import authenticate_password, change_own_password, create_user
from deshi.auth.sessions import SessionPolicy, resume_session, start_session
from deshi.db.tables import AuditEvent, User
from deshi.errors import AuthenticationFailed, ValidationFailed

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=8))
CHEAP = PasswordHasher("fast-insecure")
ONE_TIME = "one-time password the admin saw"
MINE = "a password only Hana knows"


def _user(session: Session, password: str | None = ONE_TIME) -> User:
    user = create_user(
        session,
        actor="user:0",
        email="hana@example.com",
        display_name="Hana",
        password=password,
        password_hasher=CHEAP,
    )
    session.commit()
    return user


def _change(session: Session, user: User, current: str, new: str, keep: str | None = None) -> None:
    change_own_password(
        session,
        user_id=user.id,
        current_password=current,
        new_password=new,
        password_hasher=CHEAP,
        keep_session_token=keep,
    )


def _signs_in(session: Session, password: str) -> bool:
    try:
        authenticate_password(
            session, email="hana@example.com", password=password, password_hasher=CHEAP
        )
    except AuthenticationFailed:
        return False
    return True


def test_the_new_password_signs_in_and_the_old_one_no_longer_does(session: Session) -> None:
    user = _user(session)
    _change(session, user, ONE_TIME, MINE)
    session.commit()
    assert _signs_in(session, MINE)
    assert not _signs_in(session, ONE_TIME)


def test_a_wrong_current_password_changes_nothing(session: Session) -> None:
    user = _user(session)
    with pytest.raises(AuthenticationFailed):
        _change(session, user, "not the current password", MINE)
    session.rollback()
    assert _signs_in(session, ONE_TIME)
    assert not _signs_in(session, MINE)


def test_a_token_only_account_has_no_password_to_change(session: Session) -> None:
    user = _user(session, password=None)
    with pytest.raises(AuthenticationFailed):
        _change(session, user, "", MINE)


@pytest.mark.parametrize("new", ["too short", ONE_TIME], ids=["too-short", "unchanged"])
def test_a_short_or_unchanged_new_password_is_refused(session: Session, new: str) -> None:
    user = _user(session)
    with pytest.raises(ValidationFailed) as refused:
        _change(session, user, ONE_TIME, new)
    assert refused.value.field == "new_password"
    session.rollback()
    assert _signs_in(session, ONE_TIME)


def test_the_other_sessions_end_and_the_changing_one_stays(session: Session) -> None:
    user = _user(session)
    here = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    elsewhere = start_session(session, user_id=user.id, policy=POLICY, now=T0)
    session.commit()
    _change(session, user, ONE_TIME, MINE, keep=here.token)
    session.commit()
    assert resume_session(session, token=here.token, policy=POLICY, now=T0) is not None
    assert resume_session(session, token=elsewhere.token, policy=POLICY, now=T0) is None


def test_the_change_is_audited_without_the_password_or_its_hash(session: Session) -> None:
    user = _user(session)
    _change(session, user, ONE_TIME, MINE)
    session.commit()
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.password_change")
    ).one()
    assert event.actor == f"user:{user.id}"
    recorded = json.dumps([event.before, event.after])
    assert ONE_TIME not in recorded and MINE not in recorded
    assert user.password_hash is not None and user.password_hash not in recorded
    assert "password_hash" not in recorded


def test_a_one_time_password_is_flagged_until_its_owner_changes_it(session: Session) -> None:
    user = _user(session)
    assert user.must_change_password  # whoever created the account saw the password
    _change(session, user, ONE_TIME, MINE)
    session.commit()
    assert not user.must_change_password
    admin.reset_password(session, actor="user:0", user_id=user.id, password_hasher=CHEAP)
    assert user.must_change_password  # the admin saw the new one too


def test_a_token_only_account_is_never_flagged(session: Session) -> None:
    assert not _user(session, password=None).must_change_password
