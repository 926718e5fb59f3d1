"""The API's schemas for users, role grants and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from deshi.db.tables import User
from deshi.domain import Role

__all__ = [
    "PasswordChange",
    "PasswordIssued",
    "RoleGrantCreate",
    "RoleGrantPublic",
    "TokenCreate",
    "TokenIssued",
    "TokenPublic",
    "UserCreate",
    "UserCreated",
    "UserPublic",
    "UserUpdate",
]

_LOCALE = "en or ja; empty: each request's Accept-Language chooses."


class UserCreate(BaseModel):
    """A new user: a person (a one-time password is generated) or a service account."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    display_name: str = Field(default="", max_length=200)
    locale: str = Field(default="", max_length=16, description=_LOCALE)
    service: bool = Field(default=False, description="A service account: no password, tokens only.")


class UserUpdate(BaseModel):
    """A partial update of a user's display name or language."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    locale: str | None = Field(default=None, max_length=16, description=_LOCALE)


class UserPublic(BaseModel):
    """A user as the API shows it (never a password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    locale: str
    is_active: bool
    is_service: bool
    must_change_password: bool = Field(
        description="The person still holds the one-time password an administrator saw (a new "
        "user, or after a reset) and has not replaced it yet."
    )
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        """The public view of a stored user (a service account has no password)."""
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            locale=user.locale,
            is_active=user.is_active,
            is_service=user.password_hash is None,
            must_change_password=user.must_change_password,
            created_at=user.created_at,
        )


class UserCreated(UserPublic):
    """A new user with their one-time password, shown only this once (null for a service
    account)."""

    password: str | None


class PasswordChange(BaseModel):
    """Your own password, replaced: the current one proves it is you."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=1024)
    new_password: str = Field(
        max_length=1024, description="At least 12 characters, different from the current one."
    )


class PasswordIssued(BaseModel):
    """A new one-time password, shown only this once."""

    id: int
    password: str


class RoleGrantCreate(BaseModel):
    """A role for a user, named by id or by email."""

    model_config = ConfigDict(extra="forbid")

    user_id: int | None = None
    email: str | None = Field(default=None, max_length=320)
    role: Role


class RoleGrantPublic(BaseModel):
    """A role held by a user in a department (null: workspace-wide)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    department_id: int | None
    role: Role
    created_at: datetime


class TokenCreate(BaseModel):
    """A new API token for yourself, or (a workspace admin) for a service account."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    user_id: int | None = Field(default=None, description="A service account; default: you.")


class TokenPublic(BaseModel):
    """An API token as listed: never the token itself, only its first characters."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    owner_email: str | None = None
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenPublic):
    """A new token with its secret, shown only this once."""

    token: str
