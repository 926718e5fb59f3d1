"""Auth use cases: users, passwords, role grants and API tokens; each change is audited.

These functions do not check permissions: the caller (route or CLI command) first calls
`deshi.permissions.require(principal, action, department_id)` and passes `principal.actor`.
Bookkeeping that is not a governance change (a token's last_used_at) is not audited.
The administration use cases built on these (permission-checked for the API and the pages,
and as the operator for the CLI) are in `deshi.auth.admin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy.orm import Session

from deshi.audit import record_event, snapshot
from deshi.auth import repo
from deshi.auth.passwords import STANDARD_HASHER, PasswordHasher, generate_password
from deshi.auth.sessions import end_sessions
from deshi.auth.throttle import ThrottleKey, ThrottlePolicy, record_failure, record_success
from deshi.auth.throttle import check as check_throttle
from deshi.auth.throttle import keys_for as throttle_keys
from deshi.auth.tokens import generate_token, hash_token
from deshi.db.base import utcnow
from deshi.db.tables import ApiToken, Department, RoleGrant, User
from deshi.domain import Role
from deshi.errors import AuthenticationFailed, Conflict, NotFound, ValidationFailed
from deshi.permissions import Grant, Principal

__all__ = [
    "DEFAULT_THROTTLE",
    "LAST_USED_RESOLUTION",
    "MIN_PASSWORD_LENGTH",
    "SECRET_COLUMNS",
    "FirstAdmin",
    "IssuedToken",
    "authenticate_password",
    "authenticate_token",
    "change_own_password",
    "create_first_admin",
    "create_user",
    "grant_role",
    "issue_api_token",
    "load_principal",
    "normalise_email",
    "revoke_api_token",
    "revoke_role",
]

MIN_PASSWORD_LENGTH = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)  # how stale a token's last_used_at may be
DEFAULT_THROTTLE = ThrottlePolicy()
SECRET_COLUMNS = frozenset({"password_hash", "token_hash"})  # never copied into the audit log


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A stored token and its plaintext, which is shown once and cannot be recovered."""

    token: ApiToken
    plaintext: str


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    """The workspace's first admin and the generated password to print once."""

    user: User
    password: str


def normalise_email(email: str) -> str:
    """Trimmed, lower-cased email; ValidationFailed when it is obviously not an address."""
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or not domain or " " in email:
        raise ValidationFailed(f"not an email address: {email!r}", field="email")
    return email


def create_user(
    session: Session,
    *,
    actor: str,
    email: str,
    display_name: str,
    password: str | None = None,
    locale: str = "",
    password_hasher: PasswordHasher = STANDARD_HASHER,
) -> User:
    """Create an active user; password None makes a token-only account, an empty locale lets
    each request's Accept-Language choose the language. The password is hashed at the cost of
    `password_hasher` (the process's `DESHI_PASSWORD_HASH_PROFILE`)."""
    email = normalise_email(email)
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if repo.get_user_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(
        email=email,
        display_name=display_name.strip() or email,
        password_hash=password_hasher.hash(password) if password is not None else None,
        locale=locale,
        is_active=True,
        must_change_password=password is not None,  # whoever created it saw the password
    )
    session.add(user)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="user.create",
        obj=user,
        after=snapshot(user, exclude=SECRET_COLUMNS),
    )
    return user


def authenticate_password(
    session: Session,
    *,
    email: str,
    password: str,
    password_hasher: PasswordHasher = STANDARD_HASHER,
    address: str | None = None,
    throttle: ThrottlePolicy = DEFAULT_THROTTLE,
    now: datetime | None = None,
) -> User:
    """The active user with this email and password; AuthenticationFailed otherwise.

    Throttled per account and per client `address` (deshi.auth.throttle): TooManyAttempts,
    before any hashing, while either is locked. A failure is counted in `session`, so commit it
    even when this raises AuthenticationFailed. An unknown email, an inactive or a token-only
    account costs one hash check against a dummy hash, exactly like a wrong password, so the
    time of the answer does not tell which accounts exist.
    """
    keys = throttle_keys(email=email, address=address)
    check_throttle(session, keys=keys, now=now)
    try:
        user = repo.get_user_by_email(session, normalise_email(email))
    except ValidationFailed:
        user = None
    checked = _with_password(user, password, password_hasher)
    if checked is None:
        record_failure(session, keys=keys, policy=throttle, now=now)
        raise AuthenticationFailed("wrong email or password")
    record_success(session, keys=keys)
    return checked


def _with_password(user: User | None, password: str, hasher: PasswordHasher) -> User | None:
    """`user` when it is active and `password` is theirs, else None. An unknown, inactive or
    token-only account costs one hash check against a dummy hash, exactly like a wrong
    password, so the time of the answer tells nothing."""
    usable = user is not None and user.is_active and user.password_hash is not None
    stored = user.password_hash if usable and user is not None else None
    matches = hasher.verify(stored or _dummy_hash(hasher), password)
    return user if usable and matches else None


def change_own_password(
    session: Session,
    *,
    user_id: int,
    current_password: str,
    new_password: str,
    password_hasher: PasswordHasher = STANDARD_HASHER,
    keep_session_token: str | None = None,
    address: str | None = None,
    throttle: ThrottlePolicy = DEFAULT_THROTTLE,
    now: datetime | None = None,
) -> User:
    """A person replaces their own password (for instance the one-time password an admin saw).

    AuthenticationFailed when `current_password` is wrong; it is checked like a sign-in (a
    token-only or inactive account costs one hash check against a dummy hash too), so the time
    of the answer tells nothing, and throttled like one: a wrong current password counts as a
    failed sign-in of the account and of the client `address`, so a stolen session guesses no
    faster than the sign-in form lets anyone (TooManyAttempts, before any hashing, while either
    is locked). The failure is counted in `session`: commit it even when this raises
    AuthenticationFailed (nothing else is written before any refusal). ValidationFailed when
    the new password is shorter than MIN_PASSWORD_LENGTH or equals the current one (the right
    current password clears the account's failures first). Every other browser session of the
    user ends; the one of `keep_session_token` (the session making the change) stays signed
    in: the person just proved the password, and its token never left their browser. Audited
    as `user.password_change`, without any password or hash.
    """
    user = _current_password_holder(
        session,
        user_id=user_id,
        password=current_password,
        password_hasher=password_hasher,
        keys=_own_throttle_keys(session, user_id=user_id, address=address),
        throttle=throttle,
        now=now,
    )
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="new_password"
        )
    if new_password == current_password:
        raise ValidationFailed(
            "the new password must differ from the current one", field="new_password"
        )
    user.password_hash = password_hasher.hash(new_password)
    user.must_change_password = False
    end_sessions(session, user_id=user.id, keep_token=keep_session_token)
    record_event(
        session,
        actor=f"user:{user.id}",
        action="user.password_change",
        obj=user,
        before={"password": "old"},
        after={"password": "changed by the user"},
    )
    return user


def _own_throttle_keys(session: Session, *, user_id: int, address: str | None) -> list[ThrottleKey]:
    """The sign-in throttle's keys for a signed-in person: their account's (the one a sign-in
    with their email counts against, so both share one allowance) and their address's."""
    user = repo.get_user(session, user_id)
    return throttle_keys(
        email=user.email if user is not None else f"user:{user_id}", address=address
    )


def _current_password_holder(
    session: Session,
    *,
    user_id: int,
    password: str,
    password_hasher: PasswordHasher,
    keys: list[ThrottleKey],
    throttle: ThrottlePolicy,
    now: datetime | None,
) -> User:
    """The user when `password` is their current one, checked and counted like a sign-in."""
    check_throttle(session, keys=keys, now=now)
    user = _with_password(repo.get_user(session, user_id), password, password_hasher)
    if user is None:
        record_failure(session, keys=keys, policy=throttle, now=now)
        raise AuthenticationFailed("the current password is wrong")
    record_success(session, keys=keys)
    return user


@lru_cache(maxsize=4)
def _dummy_hash(password_hasher: PasswordHasher) -> str:
    """A hash of a random password at this hasher's cost, to verify unknown accounts against."""
    return password_hasher.hash(generate_password())


def grant_role(
    session: Session, *, actor: str, user_id: int, role: Role, department_id: int | None
) -> RoleGrant:
    """Give a user a role in a department (None: workspace-wide, admin only)."""
    if department_id is None and role is not Role.ADMIN:
        raise ValidationFailed("only admin can be granted workspace-wide", field="department_id")
    _require_user(session, user_id)
    if department_id is not None and session.get(Department, department_id) is None:
        raise NotFound(f"department {department_id} not found")
    if any(g.role is role and g.department_id == department_id for g in _grants(session, user_id)):
        raise Conflict("the user already has this role here")
    grant = RoleGrant(user_id=user_id, role=role, department_id=department_id)
    session.add(grant)
    session.flush()
    record_event(session, actor=actor, action="role.grant", obj=grant, after=snapshot(grant))
    return grant


def revoke_role(session: Session, *, actor: str, grant_id: int) -> None:
    """Remove a role grant."""
    grant = session.get(RoleGrant, grant_id)
    if grant is None:
        raise NotFound(f"role grant {grant_id} not found")
    before = snapshot(grant)
    record_event(session, actor=actor, action="role.revoke", obj=grant, before=before)
    session.delete(grant)
    session.flush()


def issue_api_token(session: Session, *, actor: str, user_id: int, name: str) -> IssuedToken:
    """Create an API token for a user; the plaintext is returned once and stored only hashed."""
    _require_user(session, user_id)
    new = generate_token()
    token = ApiToken(user_id=user_id, name=name, token_hash=new.token_hash, prefix=new.prefix)
    session.add(token)
    session.flush()
    after = snapshot(token, exclude=SECRET_COLUMNS)
    record_event(session, actor=actor, action="api_token.create", obj=token, after=after)
    return IssuedToken(token=token, plaintext=new.plaintext)


def authenticate_token(session: Session, *, token: str) -> User:
    """The active user owning this unrevoked token; records when it was last used (to the
    minute: see LAST_USED_RESOLUTION)."""
    stored = repo.get_token_by_hash(session, hash_token(token))
    if stored is None or stored.revoked_at is not None:
        raise AuthenticationFailed("unknown or revoked API token")
    user = repo.get_user(session, stored.user_id)
    if user is None or not user.is_active:
        raise AuthenticationFailed("unknown or revoked API token")
    now = utcnow()
    if stored.last_used_at is None or now - stored.last_used_at >= LAST_USED_RESOLUTION:
        # At most one write a minute per token: a read-only check commits without touching
        # the disk, and concurrent requests with one token do not contend for its row.
        stored.last_used_at = now
    return user


def revoke_api_token(session: Session, *, actor: str, token_id: int) -> None:
    """Revoke a token; it stops working at once and stays listed."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"API token {token_id} not found")
    if token.revoked_at is not None:
        raise Conflict("the token is already revoked")
    before = snapshot(token, exclude=SECRET_COLUMNS)
    token.revoked_at = utcnow()
    after = snapshot(token, exclude=SECRET_COLUMNS)
    record_event(
        session, actor=actor, action="api_token.revoke", obj=token, before=before, after=after
    )


def load_principal(session: Session, user_id: int) -> Principal:
    """The principal of an active user with all their grants (an inactive user has none) and
    their saved language."""
    user = _require_user(session, user_id)
    grants = _grants(session, user_id) if user.is_active else []
    return Principal.of(user_id, grants, locale=user.locale)


def create_first_admin(
    session: Session,
    *,
    email: str,
    display_name: str = "Admin",
    password_hasher: PasswordHasher = STANDARD_HASHER,
) -> FirstAdmin:
    """Create the workspace-wide admin with a random password; Conflict if users already exist."""
    if repo.any_user_exists(session):
        raise Conflict("the workspace is already initialised")
    password = generate_password()
    user = create_user(
        session,
        actor="system:init",
        email=email,
        display_name=display_name,
        password=password,
        password_hasher=password_hasher,
    )
    grant_role(session, actor="system:init", user_id=user.id, role=Role.ADMIN, department_id=None)
    return FirstAdmin(user=user, password=password)


def _require_user(session: Session, user_id: int) -> User:
    user = repo.get_user(session, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def _grants(session: Session, user_id: int) -> list[Grant]:
    return repo.grants_of(session, user_id)
