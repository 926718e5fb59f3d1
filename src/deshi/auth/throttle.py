"""Login throttling: failed password sign-ins delay the next ones, per account and per address.

Each failure counts against two keys: the account (the email as typed, normalised — known or
not, so the answer tells nothing about which accounts exist) and the client address. Once a key
has more failures than its free allowance, every further sign-in on it is refused for a delay
that doubles with each failure, up to `ThrottlePolicy.max_delay`; `check` refuses with
`TooManyAttempts` (HTTP 429 with Retry-After) before any password hash is computed, so a
throttled attacker costs one indexed read. A key's failures are forgotten after `memory`
without a failure, and an account's after it signs in successfully.

The counts live in the `login_throttles` table, so every server process (several behind a load
balancer, on PostgreSQL) shares them; a failure is one atomic upsert. Keys are stored hashed:
the table never holds what people typed into the email field.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Table, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import LoginThrottle
from deshi.errors import TooManyAttempts

__all__ = [
    "ThrottleKey",
    "ThrottlePolicy",
    "check",
    "delay_after",
    "keys_for",
    "record_failure",
    "record_success",
]

Scope = Literal["account", "address"]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures are free per account and per address, and how delays grow."""

    free_per_account: int = 5
    free_per_address: int = 20
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)
    memory: timedelta = timedelta(hours=1)  # failures older than this are forgotten

    def free(self, scope: Scope) -> int:
        """The free failures of a scope."""
        return self.free_per_account if scope == "account" else self.free_per_address


@dataclass(frozen=True, slots=True)
class ThrottleKey:
    """One counted thing: an account or an address, hashed."""

    scope: Scope
    key: str


def keys_for(*, email: str, address: str | None) -> list[ThrottleKey]:
    """The keys a sign-in attempt counts against (the address only when it is known)."""
    keys = [_key("account", email.strip().lower())]
    if address:
        keys.append(_key("address", address))
    return keys


def _key(scope: Scope, value: str) -> ThrottleKey:
    digest = hashlib.sha256(f"{scope}\0{value}".encode()).hexdigest()
    return ThrottleKey(scope, digest)


def delay_after(failures: int, *, free: int, policy: ThrottlePolicy) -> timedelta:
    """How long a key is locked after its `failures`-th failure: nothing within the free
    allowance, then `first_delay` doubling per failure, at most `max_delay`."""
    excess = failures - free
    if excess <= 0:
        return timedelta(0)
    if excess > 40:  # 2**40 seconds is beyond any cap; avoids overflowing timedelta
        return policy.max_delay
    delay: timedelta = policy.first_delay * 2 ** (excess - 1)
    return min(delay, policy.max_delay)


def check(session: Session, *, keys: Sequence[ThrottleKey], now: datetime | None = None) -> None:
    """Refuse with TooManyAttempts while any key is locked; one read by primary key."""
    now = now or utcnow()
    locked: list[datetime] = [
        until
        for until in session.scalars(
            select(LoginThrottle.locked_until).where(
                LoginThrottle.key.in_([k.key for k in keys]), LoginThrottle.locked_until > now
            )
        )
        if until is not None
    ]
    if locked:
        wait = max(locked) - now
        raise TooManyAttempts(retry_after=max(1, math.ceil(wait.total_seconds())))


def record_failure(
    session: Session,
    *,
    keys: Sequence[ThrottleKey],
    policy: ThrottlePolicy,
    now: datetime | None = None,
) -> None:
    """Count one failed sign-in against each key and lock the keys that are past their free
    allowance; also forget every key without failures for `policy.memory`."""
    now = now or utcnow()
    forgotten = now - policy.memory
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < forgotten))
    for key in keys:
        failures = _count_failure(session, key=key, now=now, forgotten=forgotten)
        delay = delay_after(failures, free=policy.free(key.scope), policy=policy)
        if delay:
            session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key.key)
                .values(locked_until=now + delay)
            )


def record_success(session: Session, *, keys: Sequence[ThrottleKey]) -> None:
    """Forget the account's failures after a successful sign-in (an address keeps its count:
    an attacker's own account must not clear the address they guess from)."""
    accounts = [k.key for k in keys if k.scope == "account"]
    counted = session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.in_(accounts)))
    if counted.first() is not None:  # a DELETE would take SQLite's write lock even if idle
        session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(accounts)))


def _count_failure(
    session: Session, *, key: ThrottleKey, now: datetime, forgotten: datetime
) -> int:
    """Add one failure to the key atomically (an upsert: concurrent failures on several
    server processes each count) and return the key's failures."""
    table = LoginThrottle.__table__
    assert isinstance(table, Table)
    row = {"key": key.key, "scope": key.scope, "failures": 1, "last_failure_at": now}
    counted = {
        "failures": case((table.c.last_failure_at < forgotten, 1), else_=table.c.failures + 1),
        "last_failure_at": now,
    }
    # ON CONFLICT DO UPDATE exists on both backends (SQLite 3.24+), but each dialect has its
    # own INSERT construct for it.
    upsert: postgresql.Insert | sqlite.Insert
    if session.get_bind().dialect.name == "postgresql":
        upsert = postgresql.insert(table).values(row)
        upsert = upsert.on_conflict_do_update(index_elements=[table.c.key], set_=counted)
    else:
        upsert = sqlite.insert(table).values(row)
        upsert = upsert.on_conflict_do_update(index_elements=[table.c.key], set_=counted)
    return int(session.execute(upsert.returning(table.c.failures)).scalar_one())
