"""Tables of signing in: browser sessions kept on the server, and failed sign-ins per key.

A session row is what makes a sign-out final: the cookie carries only the session's random
token, the row (found by the token's sha256) holds the user and CSRF token, and a revoked or
expired row refuses the cookie. The throttle rows count failed password sign-ins per account
and per client address in the database, so every server process sees the same counts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, utcnow

__all__ = ["LoginThrottle", "UserSession"]


class UserSession(Base):
    """A signed-in browser session; its id is the sha256 of the token in the cookie."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex sha256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # kept to the minute
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the absolute timeout
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Recent failed sign-ins of one account or one client address (the key is hashed)."""

    __tablename__ = "login_throttles"
    __table_args__ = (Index("ix_login_throttles_last_failure_at", "last_failure_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of scope + value
    scope: Mapped[str] = mapped_column(String(16))  # "account" or "address"
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
