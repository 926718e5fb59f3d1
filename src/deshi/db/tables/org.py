"""Tables of the organisation: departments, users, their role grants and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, str_enum, utcnow
from deshi.domain import Role

__all__ = ["ApiToken", "Department", "RoleGrant", "User"]


class Department(Base):
    """A data boundary: users see only their departments' processes and items."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    """A person who signs in; the password is stored as an argon2 hash only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None: token-only account
    locale: Mapped[str] = mapped_column(String(16), default="")  # "": the browser's language
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # True while the password is a one-time one someone else saw (new account, first admin,
    # reset); the person's own change clears it. The pages show a banner, nothing is forced.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())


class RoleGrant(Base):
    """A role held by a user in a department; department_id None = workspace-wide (admin only)."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "department_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """A bearer token for machines; only its sha256 and a short identifying prefix are stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_token_hash", "token_hash", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64))  # hex sha256 of the full token
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, shown in listings
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
