"""Changing your own password is throttled like signing in: a wrong current password counts as a
failed sign-in of the account and the address, so a stolen session cannot guess the password
faster than the sign-in form lets anyone (issue #22)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import authenticate_password, change_own_password, create_user
from deshi.auth.throttle import ThrottlePolicy
from deshi.db.tables import User
from deshi.errors import AuthenticationFailed, TooManyAttempts, ValidationFailed

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(free_per_account=3, free_per_address=50, max_delay=timedelta(seconds=10))
ADDRESS = "192.0.2.7"
CURRENT = "the password Hana has now"
NEW = "a new password only Hana knows"


class CountingHasher(PasswordHasher):
    """The cheap argon2id profile, counting the hashes it checks."""

    __slots__ = ("checked",)

    def __init__(self) -> None:
        super().__init__("fast-insecure")
        self.checked = 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.checked += 1
        return super().verify(password_hash, password)


HASHER = CountingHasher()


def _user(session: Session) -> User:
    user = create_user(
        session, actor="user:0", email="hana@example.com", display_name="Hana",
        password=CURRENT, password_hasher=HASHER,
    )  # fmt: skip
    session.commit()
    return user


def _change(
    session: Session, user: User, current: str, *, at: datetime = T0, new: str = NEW
) -> str:
    """One change, committed like the routes do (the failure's count too); what it answered."""
    try:
        change_own_password(
            session, user_id=user.id, current_password=current, new_password=new,
            password_hasher=HASHER, address=ADDRESS, throttle=POLICY, now=at,
        )  # fmt: skip
        outcome = "ok"
    except AuthenticationFailed:
        outcome = "401"
    except ValidationFailed:
        outcome = "422"
    except TooManyAttempts as throttled:
        outcome = f"429 {throttled.retry_after}"
    session.commit()
    return outcome


def _sign_in(session: Session, password: str, *, at: datetime = T0) -> str:
    try:
        authenticate_password(
            session, email="hana@example.com", password=password, password_hasher=HASHER,
            address="198.51.100.1", throttle=POLICY, now=at,
        )  # fmt: skip
        outcome = "ok"
    except AuthenticationFailed:
        outcome = "401"
    except TooManyAttempts as throttled:
        outcome = f"429 {throttled.retry_after}"
    session.commit()
    return outcome


def test_wrong_current_passwords_are_delayed_past_the_free_failures(session: Session) -> None:
    user = _user(session)
    answers = [_change(session, user, f"guess number {n}") for n in range(4)]

    assert answers == ["401", "401", "401", "401"]  # the 4th failure locks for 1 s
    assert _change(session, user, "yet another guess") == "429 1"
    assert _change(session, user, CURRENT) == "429 1"  # even the right one waits
    later = T0 + timedelta(seconds=2)
    assert _change(session, user, "a fifth guess", at=later) == "401"
    assert _change(session, user, "a sixth guess", at=later) == "429 2"  # the delay doubles


def test_a_throttled_change_computes_no_hash(session: Session) -> None:
    user = _user(session)
    for n in range(4):
        _change(session, user, f"guess number {n}")
    HASHER.checked = 0
    assert _change(session, user, CURRENT) == "429 1"
    assert HASHER.checked == 0


def test_guesses_at_the_change_and_at_sign_in_share_one_allowance(session: Session) -> None:
    user = _user(session)
    for n in range(4):
        _change(session, user, f"guess number {n}")

    assert _sign_in(session, CURRENT).startswith("429")  # from another address, same account


def test_after_the_delay_the_right_password_changes_it_and_clears_the_count(
    session: Session,
) -> None:
    user = _user(session)
    for n in range(4):
        _change(session, user, f"guess number {n}")
    later = T0 + timedelta(seconds=2)

    assert _change(session, user, CURRENT, at=later) == "ok"
    assert [_change(session, user, f"guess {n}", at=later) for n in range(3)] == ["401"] * 3
    assert _sign_in(session, NEW, at=later) == "ok"


def test_a_refused_new_password_does_not_count_as_a_failure(session: Session) -> None:
    user = _user(session)
    answers = [_change(session, user, CURRENT, new="short") for _ in range(6)]

    assert answers == ["422"] * 6
    assert _change(session, user, CURRENT) == "ok"
