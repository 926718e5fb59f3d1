from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.audit import verify_chain
from deshi.audit.chain import canonical_json
from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import (
    authenticate_password,
    authenticate_token,
    create_user,
    grant_role,
    issue_api_token,
    load_principal,
    revoke_api_token,
    revoke_role,
)
from deshi.db.tables import ApiToken, AuditEvent, Department, User
from deshi.domain import Role
from deshi.errors import AuthenticationFailed, Conflict, NotFound, ValidationFailed
from deshi.permissions import Grant

PASSWORD = "a long enough password"
CHEAP = PasswordHasher("fast-insecure")


def _user(session: Session, email: str = "Ana@Example.com") -> User:
    return create_user(
        session,
        actor="user:0",
        email=email,
        display_name="Ana",
        password=PASSWORD,
        password_hasher=CHEAP,
    )


def _login(session: Session, email: str, password: str) -> User:
    return authenticate_password(session, email=email, password=password, password_hasher=CHEAP)


def _events(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_create_user_normalises_email_and_audits_without_the_hash(session: Session) -> None:
    user = _user(session)
    assert user.email == "ana@example.com"
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    [event] = _events(session)
    assert (event.action, event.object_type, event.object_id) == (
        "user.create",
        "users",
        str(user.id),
    )
    assert event.after["email"] == "ana@example.com"
    assert "password_hash" not in event.after and "argon2" not in canonical_json(event.after)


def test_duplicate_email_is_a_conflict(session: Session) -> None:
    _user(session)
    with pytest.raises(Conflict):
        _user(session, email="ANA@example.com ")


@pytest.mark.parametrize(
    ("email", "password", "field"), [("nope", PASSWORD, "email"), ("a@b.c", "short", "password")]
)
def test_bad_input_names_the_field(session: Session, email: str, password: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create_user(
            session,
            actor="user:0",
            email=email,
            display_name="x",
            password=password,
            password_hasher=CHEAP,
        )
    assert caught.value.field == field


def test_password_login(session: Session) -> None:
    user = _user(session)
    assert _login(session, " ANA@example.com", PASSWORD) is user
    for email, password in [("ana@example.com", "wrong password!!"), ("bob@example.com", PASSWORD)]:
        with pytest.raises(AuthenticationFailed):
            _login(session, email, password)
    user.is_active = False
    with pytest.raises(AuthenticationFailed):
        _login(session, "ana@example.com", PASSWORD)


def test_token_is_shown_once_stored_hashed_and_found_by_hash(session: Session) -> None:
    user = _user(session)
    issued = issue_api_token(session, actor="user:0", user_id=user.id, name="ci")
    stored = session.scalars(select(ApiToken)).one()
    assert issued.plaintext not in (stored.token_hash, stored.prefix)
    assert issued.plaintext.startswith(stored.prefix)
    assert stored.last_used_at is None
    assert authenticate_token(session, token=issued.plaintext) is user
    assert stored.last_used_at is not None
    with pytest.raises(AuthenticationFailed):
        authenticate_token(session, token=issued.plaintext + "x")
    assert issued.plaintext not in canonical_json([e.after for e in _events(session)])


def test_revoked_token_stops_working(session: Session) -> None:
    user = _user(session)
    issued = issue_api_token(session, actor="user:0", user_id=user.id, name="ci")
    revoke_api_token(session, actor="user:0", token_id=issued.token.id)
    with pytest.raises(AuthenticationFailed):
        authenticate_token(session, token=issued.plaintext)
    with pytest.raises(Conflict):
        revoke_api_token(session, actor="user:0", token_id=issued.token.id)


def test_token_of_inactive_user_is_refused(session: Session) -> None:
    user = _user(session)
    issued = issue_api_token(session, actor="user:0", user_id=user.id, name="ci")
    user.is_active = False
    with pytest.raises(AuthenticationFailed):
        authenticate_token(session, token=issued.plaintext)


def test_grants_make_the_principal(session: Session) -> None:
    user = _user(session)
    department = Department(name="finance")
    session.add(department)
    session.flush()
    grant_role(
        session, actor="user:0", user_id=user.id, role=Role.REVIEWER, department_id=department.id
    )
    admin = grant_role(
        session, actor="user:0", user_id=user.id, role=Role.ADMIN, department_id=None
    )
    principal = load_principal(session, user.id)
    assert principal.grants == {Grant(Role.REVIEWER, department.id), Grant(Role.ADMIN, None)}
    revoke_role(session, actor="user:0", grant_id=admin.id)
    assert load_principal(session, user.id).grants == {Grant(Role.REVIEWER, department.id)}
    user.is_active = False
    assert load_principal(session, user.id).grants == frozenset()


def test_grant_rules(session: Session) -> None:
    user = _user(session)
    with pytest.raises(ValidationFailed) as caught:
        grant_role(session, actor="user:0", user_id=user.id, role=Role.OWNER, department_id=None)
    assert caught.value.field == "department_id"
    with pytest.raises(NotFound):
        grant_role(session, actor="user:0", user_id=user.id, role=Role.OWNER, department_id=404)
    with pytest.raises(NotFound):
        grant_role(session, actor="user:0", user_id=9999, role=Role.ADMIN, department_id=None)
    grant_role(session, actor="user:0", user_id=user.id, role=Role.ADMIN, department_id=None)
    with pytest.raises(Conflict):
        grant_role(session, actor="user:0", user_id=user.id, role=Role.ADMIN, department_id=None)


def test_each_change_writes_exactly_one_audit_event(session: Session) -> None:
    user = _user(session)
    issued = issue_api_token(session, actor="user:0", user_id=user.id, name="ci")
    grant = grant_role(
        session, actor="user:0", user_id=user.id, role=Role.ADMIN, department_id=None
    )
    revoke_role(session, actor="user:0", grant_id=grant.id)
    revoke_api_token(session, actor="user:0", token_id=issued.token.id)
    actions = [e.action for e in _events(session)]
    assert actions == [
        "user.create",
        "api_token.create",
        "role.grant",
        "role.revoke",
        "api_token.revoke",
    ]
    session.commit()
    assert verify_chain(session).ok
