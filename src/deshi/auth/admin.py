"""Administration use cases: user accounts, role grants and API tokens as admins manage them.

`deshi.auth.service` holds the primitives (create a user, grant a role, issue a token, sign
in); this module adds the admin's view of them. Functions taking a `principal` check its
permission themselves:

- users (create, list, change, deactivate, reset a password): a workspace admin (403 otherwise);
- role grants: an admin of the grant's department (a workspace-wide grant: a workspace admin);
- API tokens: anyone for themselves; a workspace admin also for service accounts, and lists and
  revokes anyone's.

Functions taking an `actor` serve operators who hold the database (the CLI) and check nothing.
Every change is audited with its before and after; secrets never enter the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.audit import record_event, snapshot
from deshi.auth import repo
from deshi.auth.passwords import STANDARD_HASHER, PasswordHasher, generate_password
from deshi.auth.service import (
    SECRET_COLUMNS,
    IssuedToken,
    create_user,
    grant_role,
    issue_api_token,
    normalise_email,
    revoke_api_token,
    revoke_role,
)
from deshi.auth.sessions import end_sessions
from deshi.db.tables import ApiToken, Department, RoleGrant, User
from deshi.domain import Role
from deshi.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from deshi.i18n import LOCALES
from deshi.permissions import Action, Principal, can, require, require_workspace

__all__ = [
    "NewAccount",
    "create_account",
    "create_account_for",
    "deactivate_user",
    "deactivate_user_for",
    "find_user",
    "get_user",
    "grant_live_role",
    "grant_role_for",
    "is_service_account",
    "issue_token_for",
    "list_grants",
    "list_grants_for",
    "list_tokens",
    "list_tokens_for",
    "list_users",
    "list_users_for",
    "reset_password",
    "reset_password_for",
    "resolve_user",
    "revoke_grant",
    "revoke_grant_for",
    "revoke_token_for",
    "token_owners",
    "update_user",
    "update_user_for",
]


@dataclass(frozen=True, slots=True)
class NewAccount:
    """A new user and the one-time password to show once (None for a service account)."""

    user: User
    password: str | None


def is_service_account(user: User) -> bool:
    """A service account has no password: it signs in with API tokens only."""
    return user.password_hash is None


def get_user(session: Session, user_id: int) -> User:
    """The user with this id; NotFound otherwise."""
    user = repo.get_user(session, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def find_user(session: Session, email: str) -> User:
    """The user with this email; NotFound otherwise."""
    user = repo.get_user_by_email(session, normalise_email(email))
    if user is None:
        raise NotFound(f"no user with email {email.strip().lower()}")
    return user


# --- users ---------------------------------------------------------------------------------


def create_account(
    session: Session,
    *,
    actor: str,
    email: str,
    display_name: str = "",
    locale: str = "",
    service: bool = False,
    password_hasher: PasswordHasher = STANDARD_HASHER,
) -> NewAccount:
    """Create a person with a generated one-time password, or a service account (no password,
    tokens only). The password is returned once and stored only hashed."""
    password = None if service else generate_password()
    user = create_user(
        session,
        actor=actor,
        email=email,
        display_name=display_name,
        password=password,
        locale=_locale(locale),
        password_hasher=password_hasher,
    )
    return NewAccount(user=user, password=password)


def create_account_for(
    session: Session,
    *,
    principal: Principal,
    email: str,
    display_name: str = "",
    locale: str = "",
    service: bool = False,
    password_hasher: PasswordHasher = STANDARD_HASHER,
) -> NewAccount:
    """`create_account` by a workspace admin."""
    require_workspace(principal, Action.MANAGE_USERS)
    return create_account(
        session,
        actor=principal.actor,
        email=email,
        display_name=display_name,
        locale=locale,
        service=service,
        password_hasher=password_hasher,
    )


def list_users(session: Session, *, include_inactive: bool = True) -> list[User]:
    """Every user, oldest first."""
    query = select(User).order_by(User.id)
    if not include_inactive:
        query = query.where(User.is_active.is_(True))
    return list(session.scalars(query))


def list_users_for(
    session: Session, *, principal: Principal, include_inactive: bool = True
) -> list[User]:
    """`list_users` for a workspace admin."""
    require_workspace(principal, Action.MANAGE_USERS)
    return list_users(session, include_inactive=include_inactive)


def update_user(
    session: Session,
    *,
    actor: str,
    user_id: int,
    display_name: str | None = None,
    locale: str | None = None,
) -> User:
    """Change a user's display name or saved language ("" lets the browser choose)."""
    user = get_user(session, user_id)
    before = snapshot(user, exclude=SECRET_COLUMNS)
    if display_name is not None:
        user.display_name = display_name.strip() or user.email
    if locale is not None:
        user.locale = _locale(locale)
    _record_change(session, actor, "user.update", user, before)
    return user


def update_user_for(
    session: Session,
    *,
    principal: Principal,
    user_id: int,
    display_name: str | None = None,
    locale: str | None = None,
) -> User:
    """`update_user` by a workspace admin, or by the user themselves."""
    if principal.user_id != user_id:
        require_workspace(principal, Action.MANAGE_USERS)
    return update_user(
        session, actor=principal.actor, user_id=user_id, display_name=display_name, locale=locale
    )


def deactivate_user(session: Session, *, actor: str, user_id: int) -> User:
    """Deactivate a user: their password, API tokens and browser sessions stop working at once
    (every request checks `is_active`, and their sessions are ended); their grants and history
    stay for the record. The last
    active workspace admin cannot be deactivated: nobody could administer the workspace."""
    user = get_user(session, user_id)
    if not user.is_active:
        raise Conflict(f"user {user_id} is already deactivated")
    if _is_last_workspace_admin(session, user_id):
        raise Conflict("the last active workspace admin cannot be deactivated")
    before = snapshot(user, exclude=SECRET_COLUMNS)
    user.is_active = False
    end_sessions(session, user_id=user_id)  # refused while inactive anyway; ended for good
    _record_change(session, actor, "user.deactivate", user, before)
    return user


def deactivate_user_for(session: Session, *, principal: Principal, user_id: int) -> User:
    """`deactivate_user` by a workspace admin (never themselves)."""
    require_workspace(principal, Action.MANAGE_USERS)
    if principal.user_id == user_id:
        raise Conflict("you cannot deactivate yourself")
    return deactivate_user(session, actor=principal.actor, user_id=user_id)


def reactivate_user(session: Session, *, actor: str, user_id: int) -> User:
    """Let a deactivated user in again: their grants and API tokens work as they did (revoke a
    token that should not); their old browser sessions stay ended, so a person signs in again
    with their password (reset it if it may have leaked)."""
    user = get_user(session, user_id)
    if user.is_active:
        raise Conflict(f"user {user_id} is already active")
    before = snapshot(user, exclude=SECRET_COLUMNS)
    user.is_active = True
    _record_change(session, actor, "user.reactivate", user, before)
    return user


def reactivate_user_for(session: Session, *, principal: Principal, user_id: int) -> User:
    """`reactivate_user` by a workspace admin."""
    require_workspace(principal, Action.MANAGE_USERS)
    return reactivate_user(session, actor=principal.actor, user_id=user_id)


def reset_password(
    session: Session,
    *,
    actor: str,
    user_id: int,
    password_hasher: PasswordHasher = STANDARD_HASHER,
) -> str:
    """Give a person a new generated one-time password and return it (shown once); the old
    one and every browser session of theirs stop working. Service accounts have no password to
    reset."""
    user = get_user(session, user_id)
    if is_service_account(user):
        raise Conflict(f"user {user_id} is a service account: it has no password")
    if not user.is_active:
        raise Conflict(f"user {user_id} is deactivated")
    password = generate_password()
    user.password_hash = password_hasher.hash(password)
    user.must_change_password = True  # the admin saw it: the person replaces it
    end_sessions(session, user_id=user_id)  # whoever signed in with the old password is out
    record_event(
        session,
        actor=actor,
        action="user.reset_password",
        obj=user,
        before={"password": "old"},
        after={"password": "new one-time password"},
    )
    return password


def reset_password_for(
    session: Session,
    *,
    principal: Principal,
    user_id: int,
    password_hasher: PasswordHasher = STANDARD_HASHER,
) -> str:
    """`reset_password` by a workspace admin."""
    require_workspace(principal, Action.MANAGE_USERS)
    return reset_password(
        session, actor=principal.actor, user_id=user_id, password_hasher=password_hasher
    )


def _is_last_workspace_admin(session: Session, user_id: int) -> bool:
    admins = set(
        session.scalars(
            select(RoleGrant.user_id)
            .join(User, User.id == RoleGrant.user_id)
            .where(
                RoleGrant.role == Role.ADMIN,
                RoleGrant.department_id.is_(None),
                User.is_active.is_(True),
            )
        )
    )
    return admins == {user_id}


def _locale(locale: str) -> str:
    locale = locale.strip()
    if locale and locale not in LOCALES:
        raise ValidationFailed(f"language must be one of {', '.join(LOCALES)}", field="locale")
    return locale


# --- role grants ---------------------------------------------------------------------------


def grant_role_for(
    session: Session, *, principal: Principal, user_id: int, role: Role, department_id: int | None
) -> RoleGrant:
    """Grant a role in a department the principal administers (workspace-wide: a workspace
    admin only)."""
    _require_grant_manager(principal, department_id)
    return grant_live_role(
        session, actor=principal.actor, user_id=user_id, role=role, department_id=department_id
    )


def grant_live_role(
    session: Session, *, actor: str, user_id: int, role: Role, department_id: int | None
) -> RoleGrant:
    """`grant_role`, refusing archived departments (they take no new grants)."""
    if department_id is not None:
        department = session.get(Department, department_id)
        if department is not None and department.archived_at is not None:
            raise Conflict(f"department {department_id} is archived")
    return grant_role(session, actor=actor, user_id=user_id, role=role, department_id=department_id)


def revoke_grant_for(session: Session, *, principal: Principal, grant_id: int) -> None:
    """Revoke a grant in a department the principal administers; the last active workspace
    admin keeps their workspace-wide grant."""
    grant = session.get(RoleGrant, grant_id)
    if grant is None or not _sees_grant(principal, grant):
        raise NotFound(f"role grant {grant_id} not found")
    _require_grant_manager(principal, grant.department_id)
    revoke_grant(session, actor=principal.actor, grant_id=grant_id)


def revoke_grant(session: Session, *, actor: str, grant_id: int) -> None:
    """Revoke a grant (operator); the last active workspace admin's grant stays."""
    grant = session.get(RoleGrant, grant_id)
    if grant is None:
        raise NotFound(f"role grant {grant_id} not found")
    if (
        grant.role is Role.ADMIN
        and grant.department_id is None
        and _is_last_workspace_admin(session, grant.user_id)
    ):
        raise Conflict("the last active workspace admin keeps their grant")
    revoke_role(session, actor=actor, grant_id=grant_id)


def list_grants(
    session: Session, *, department_id: int | None = None, user_id: int | None = None
) -> list[RoleGrant]:
    """Role grants, optionally of one department or one user, oldest first."""
    query = select(RoleGrant).order_by(RoleGrant.id)
    if department_id is not None:
        query = query.where(RoleGrant.department_id == department_id)
    if user_id is not None:
        query = query.where(RoleGrant.user_id == user_id)
    return list(session.scalars(query))


def list_grants_for(
    session: Session, *, principal: Principal, department_id: int | None = None
) -> list[RoleGrant]:
    """The grants of a department the principal administers; without a department, those of
    every department they administer (a workspace admin: every grant)."""
    if department_id is not None:
        _require_grant_manager(principal, department_id)
        return list_grants(session, department_id=department_id)
    if principal.is_workspace_admin:
        return list_grants(session)
    return [
        g
        for g in list_grants(session)
        if g.department_id is not None and can(principal, Action.MANAGE_USERS, g.department_id)
    ]


def resolve_user(session: Session, *, user_id: int | None, email: str | None) -> User:
    """The user named by id or by email (exactly one of them)."""
    if (user_id is None) == (email is None):
        raise ValidationFailed("name the user by user_id or by email", field="user_id")
    return get_user(session, user_id) if user_id is not None else find_user(session, email or "")


def _require_grant_manager(principal: Principal, department_id: int | None) -> None:
    if department_id is None:
        require_workspace(principal, Action.MANAGE_USERS)
        return
    try:
        require(principal, Action.MANAGE_USERS, department_id)
    except NotFound:
        raise NotFound(f"department {department_id} not found") from None


def _sees_grant(principal: Principal, grant: RoleGrant) -> bool:
    if grant.department_id is None:
        return principal.is_workspace_admin
    return can(principal, Action.READ, grant.department_id)


# --- API tokens ----------------------------------------------------------------------------


def issue_token_for(
    session: Session, *, principal: Principal, name: str, user_id: int | None = None
) -> IssuedToken:
    """Issue a token for the principal, or (a workspace admin) for a service account; a token
    never lets one person act as another."""
    name = name.strip()
    if not name:
        raise ValidationFailed("a token needs a name", field="name")
    owner = principal.user_id if user_id is None else user_id
    if owner != principal.user_id:
        require_workspace(principal, Action.MANAGE_USERS)
        if not is_service_account(get_user(session, owner)):
            raise PermissionDenied(
                "tokens for another user can be issued for service accounts only"
            )
    return issue_api_token(session, actor=principal.actor, user_id=owner, name=name)


def list_tokens(session: Session, *, user_id: int | None = None) -> list[ApiToken]:
    """API tokens (revoked ones too), of one user or of everyone, oldest first."""
    query = select(ApiToken).order_by(ApiToken.id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.scalars(query))


def list_tokens_for(
    session: Session, *, principal: Principal, everyone: bool = False
) -> list[ApiToken]:
    """The principal's own tokens; with `everyone`, a workspace admin sees every token."""
    if everyone:
        require_workspace(principal, Action.MANAGE_USERS)
        return list_tokens(session)
    return list_tokens(session, user_id=principal.user_id)


def revoke_token_for(session: Session, *, principal: Principal, token_id: int) -> ApiToken:
    """Revoke one of the principal's tokens (a workspace admin: anyone's); others' tokens do
    not exist for the caller."""
    token = session.get(ApiToken, token_id)
    if token is None or (
        token.user_id != principal.user_id and not can(principal, Action.MANAGE_USERS, None)
    ):
        raise NotFound(f"API token {token_id} not found")
    revoke_api_token(session, actor=principal.actor, token_id=token_id)
    return token


def token_owners(session: Session, tokens: list[ApiToken]) -> dict[int, str]:
    """Email of each token's owner, by user id."""
    ids = {t.user_id for t in tokens}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(sorted(ids))))
    return {row.id: row.email for row in rows}


def _record_change(session: Session, actor: str, action: str, user: User, before: object) -> None:
    after = snapshot(user, exclude=SECRET_COLUMNS)
    if after != before:
        record_event(session, actor=actor, action=action, obj=user, before=before, after=after)
