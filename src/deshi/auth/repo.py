"""SQL for auth only: users, role grants and API tokens."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from deshi.db.tables import ApiToken, RoleGrant, User
from deshi.permissions import Grant

__all__ = ["any_user_exists", "get_token_by_hash", "get_user", "get_user_by_email", "grants_of"]


def get_user(session: Session, user_id: int) -> User | None:
    """The user with this id, if any."""
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    """The user with this (normalised, lower-case) email, if any."""
    return session.scalars(select(User).where(User.email == email)).one_or_none()


def any_user_exists(session: Session) -> bool:
    """True once the workspace has at least one user."""
    return bool(session.scalar(select(exists().where(User.id.is_not(None)))))


def grants_of(session: Session, user_id: int) -> list[Grant]:
    """Every role grant of a user."""
    rows = session.execute(
        select(RoleGrant.role, RoleGrant.department_id).where(RoleGrant.user_id == user_id)
    )
    return [Grant(role=row.role, department_id=row.department_id) for row in rows]


def get_token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    """The token whose stored hash matches, if any."""
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).one_or_none()
