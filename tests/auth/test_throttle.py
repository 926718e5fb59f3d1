"""Login throttling per account and per address, and the same work for known and unknown
accounts (counted on an injected hasher, never timed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import authenticate_password, create_user
from deshi.auth.throttle import ThrottlePolicy, delay_after
from deshi.db import create_db_engine, make_session_factory
from deshi.db.tables import LoginThrottle, User
from deshi.errors import AuthenticationFailed, TooManyAttempts

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "a long enough password"
POLICY = ThrottlePolicy(free_per_account=3, free_per_address=5, max_delay=timedelta(seconds=10))


class CountingHasher(PasswordHasher):
    """The cheap argon2id profile, counting the hashes it checks."""

    __slots__ = ("checked",)

    def __init__(self) -> None:
        super().__init__("fast-insecure")
        self.checked: list[str] = []

    def verify(self, password_hash: str, password: str) -> bool:
        self.checked.append(password_hash)
        return super().verify(password_hash, password)


HASHER = CountingHasher()


def _user(
    session: Session, email: str = "ana@example.com", password: str | None = PASSWORD
) -> User:
    user = create_user(
        session, actor="user:0", email=email, display_name="Ana", password=password,
        password_hasher=HASHER,
    )  # fmt: skip
    session.commit()
    return user


def _attempt(
    session: Session,
    email: str = "ana@example.com",
    password: str = "wrong password!",
    *,
    address: str | None = "192.0.2.1",
    at: datetime = T0,
) -> str:
    """One sign-in, committed like the routes do; what it answered."""
    try:
        authenticate_password(
            session, email=email, password=password, password_hasher=HASHER,
            address=address, throttle=POLICY, now=at,
        )  # fmt: skip
        outcome = "ok"
    except AuthenticationFailed:
        outcome = "401"
    except TooManyAttempts as throttled:
        outcome = f"429 {throttled.retry_after}"
    session.commit()
    return outcome


def test_delays_double_past_the_free_failures_up_to_the_cap() -> None:
    delays = [delay_after(n, free=3, policy=POLICY).total_seconds() for n in range(1, 10)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 10, 10]
    assert delay_after(10**6, free=3, policy=POLICY) == POLICY.max_delay


def test_an_account_is_throttled_after_its_free_failures(session: Session) -> None:
    _user(session)
    assert [_attempt(session) for _ in range(4)] == ["401", "401", "401", "401"]
    # the 4th failure locked the account for 1 s: even the right password waits
    assert _attempt(session, password=PASSWORD) == "429 1"
    assert _attempt(session, at=T0 + timedelta(seconds=1)) == "401"  # 5th: 2 s
    assert _attempt(session, at=T0 + timedelta(seconds=2)) == "429 1"
    assert _attempt(session, password=PASSWORD, at=T0 + timedelta(seconds=3)) == "ok"


def test_the_lock_is_per_account_from_every_address(session: Session) -> None:
    _user(session)
    _user(session, "ben@example.com")
    for n in range(4):
        assert _attempt(session, address=f"192.0.2.{n}") == "401"
    assert _attempt(session, address="198.51.100.7") == "429 1"
    assert _attempt(session, "ben@example.com", PASSWORD, address="198.51.100.7") == "ok"


def test_an_address_is_throttled_across_accounts(session: Session) -> None:
    _user(session)
    for n in range(6):
        assert _attempt(session, f"guess{n}@example.com") == "401"
    assert _attempt(session, "ana@example.com", PASSWORD) == "429 1"
    assert _attempt(session, "ana@example.com", PASSWORD, address="198.51.100.7") == "ok"


def test_unknown_accounts_are_throttled_like_known_ones(session: Session) -> None:
    for _ in range(4):
        assert _attempt(session, "nobody@example.com", address=None) == "401"
    assert _attempt(session, "Nobody@Example.com ", address=None) == "429 1"


def test_signing_in_forgets_the_accounts_failures(session: Session) -> None:
    _user(session)
    for _ in range(3):
        _attempt(session, address=None)
    assert _attempt(session, password=PASSWORD, address=None) == "ok"
    outcomes = [_attempt(session, address=None) for _ in range(5)]
    assert outcomes == ["401", "401", "401", "401", "429 1"]  # three free failures again


def test_failures_are_forgotten_after_the_memory(session: Session) -> None:
    _user(session)
    for _ in range(3):
        _attempt(session)
    later = T0 + POLICY.memory + timedelta(seconds=1)
    assert _attempt(session, at=later) == "401"
    assert session.scalars(select(LoginThrottle.failures)).all() == [1, 1]  # account, address


def test_failures_count_across_server_processes(db_url: str, session: Session) -> None:
    _user(session)
    engines = [create_db_engine(db_url) for _ in range(2)]
    factories: list[sessionmaker[Session]] = [make_session_factory(e) for e in engines]
    try:
        for n in range(4):
            with factories[n % 2]() as other:
                assert _attempt(other) == "401"
        with factories[0]() as other:
            assert _attempt(other, password=PASSWORD) == "429 1"
    finally:
        for e in engines:
            e.dispose()


def test_throttled_attempts_compute_no_hash(session: Session) -> None:
    _user(session)
    for _ in range(4):
        _attempt(session)
    HASHER.checked.clear()
    assert _attempt(session, password=PASSWORD) == "429 1"
    assert HASHER.checked == []


def test_the_keys_are_stored_hashed(session: Session) -> None:
    _attempt(session, "typed-a-password-here@example.com", address="192.0.2.1")
    keys = " ".join(session.scalars(select(LoginThrottle.key)).all())
    assert "typed-a-password" not in keys and "192.0.2.1" not in keys


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("nobody@example.com", PASSWORD),  # unknown account
        ("not an email", PASSWORD),  # not even an address
        ("ana@example.com", "wrong password!"),  # known, wrong password
        ("ana@example.com", PASSWORD),  # known, right password
        ("off@example.com", PASSWORD),  # deactivated
        ("robot@example.com", PASSWORD),  # token-only account: no password
    ],
)
def test_every_attempt_checks_exactly_one_hash_of_the_same_cost(
    session: Session, email: str, password: str
) -> None:
    ana = _user(session)
    _user(session, "off@example.com").is_active = False
    _user(session, "robot@example.com", password=None)
    session.commit()
    HASHER.checked.clear()
    _attempt(session, email, password, address=None)
    assert len(HASHER.checked) == 1
    # an argon2 hash encodes its parameters before the salt: the same cost as a real one
    assert HASHER.checked[0].rsplit("$", 2)[0] == ana.password_hash.rsplit("$", 2)[0]  # type: ignore[union-attr]
