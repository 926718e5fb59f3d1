"""Incremental verification from a remembered verified prefix (deshi.audit.checkpoint)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from keyed import KEY, append, keyed_factory
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import checkpoint as checkpoint_module
from deshi.audit import verify_and_remember, verify_chain, verify_incrementally
from deshi.audit.service import ChainWalk, walk_events
from deshi.db.tables import AuditCheckpoint

Tamper = Callable[[str], None]


def _checkpoint(factory: sessionmaker[Session]) -> AuditCheckpoint | None:
    with factory() as session:
        return session.scalar(select(AuditCheckpoint))


def test_a_view_after_a_verification_hashes_only_the_new_events(
    db_url: str, engine: object
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 5)
        first = verify_and_remember(factory)
        append(factory, 3)
        second = verify_and_remember(factory)
        third = verify_and_remember(factory)
        checkpoint = _checkpoint(factory)
    assert first.ok and first.checked == 5 and first.resumed_after == 0
    assert second.ok and second.checked == 3 and second.resumed_after == 5
    assert second.head_seq == 8 and second.keyed_from == 1
    assert third.ok and third.checked == 0 and third.resumed_after == 8
    assert checkpoint is not None and checkpoint.head_seq == 8 and checkpoint.event_count == 8
    assert checkpoint.full is False  # the last pass resumed; `deshi audit verify` reads all


def test_the_incremental_head_is_the_full_head(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 4)
        verify_and_remember(factory)
        append(factory, 2)
        with factory() as session:
            incremental, full = verify_incrementally(session), verify_chain(session)
    assert incremental.ok and full.ok
    assert (incremental.head_seq, incremental.head_hash) == (full.head_seq, full.head_hash)
    assert incremental.checked == 2 and full.checked == 6


def test_an_edit_after_the_checkpoint_is_caught(
    db_url: str, engine: object, tamper: Tamper
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 3)
        verify_and_remember(factory)
        append(factory, 3)
        tamper("UPDATE audit_events SET actor = 'user:9' WHERE seq = 5")
        result = verify_and_remember(factory)
        checkpoint = _checkpoint(factory)
    assert not result.ok and result.first_bad_seq == 5
    assert checkpoint is not None and checkpoint.head_seq == 3  # a failure is not remembered


def test_an_edit_inside_the_prefix_is_caught_only_by_the_full_verification(
    db_url: str, engine: object, tamper: Tamper
) -> None:
    """Documented behaviour: the prefix is not re-hashed on a view; `deshi audit verify` and
    anchors are what see an edit there."""
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 6)
        verify_and_remember(factory)
        tamper("UPDATE audit_events SET actor = 'user:9' WHERE seq = 2")
        with factory() as session:
            incremental, full = verify_incrementally(session), verify_chain(session)
    assert incremental.ok and incremental.checked == 0
    assert not full.ok and full.first_bad_seq == 2


def test_an_edit_of_the_prefix_end_is_caught(db_url: str, engine: object, tamper: Tamper) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 4)
        verify_and_remember(factory)
        # Flip the first hex digit to one it is not: a fixed 'f' would be no change one time in 16.
        tamper(
            "UPDATE audit_events SET hash = "
            "CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' ELSE 'f' END || substr(hash, 2) "
            "WHERE seq = 4"
        )
        with factory() as session:
            result = verify_incrementally(session)
    assert not result.ok and result.first_bad_seq == 4
    assert "changed since it was verified" in (result.reason or "")


def test_a_deletion_inside_the_prefix_is_caught_by_the_count(
    db_url: str, engine: object, tamper: Tamper
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 6)
        verify_and_remember(factory)
        tamper("DELETE FROM audit_events WHERE seq = 3")
        with factory() as session:
            result = verify_incrementally(session)
    assert not result.ok and result.first_bad_seq == 6 and result.checked == 0
    assert "6 events up to event 6 were verified, 5 are stored now" in (result.reason or "")


def test_a_truncation_below_the_checkpoint_is_caught(
    db_url: str, engine: object, tamper: Tamper
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 6)
        verify_and_remember(factory)
        tamper("DELETE FROM audit_events WHERE seq >= 4")
        result = verify_and_remember(factory)
        checkpoint = _checkpoint(factory)
    assert not result.ok and result.first_bad_seq == 6
    assert "event 6, verified before, is missing" in (result.reason or "")
    assert checkpoint is not None and checkpoint.head_seq == 6


def test_a_deleted_checkpoint_means_a_full_verification(
    db_url: str, engine: object, tamper: Tamper
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 4)
        verify_and_remember(factory)
        tamper("DELETE FROM audit_checkpoints")
        result = verify_and_remember(factory)
        checkpoint = _checkpoint(factory)
    assert result.ok and result.checked == 4 and result.resumed_after == 0
    assert checkpoint is not None and checkpoint.full is True


def test_a_full_verification_is_remembered_as_full(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 3)
        verify_and_remember(factory)
        append(factory, 1)
        result = verify_and_remember(factory, full=True)
        checkpoint = _checkpoint(factory)
    assert result.ok and result.checked == 4 and result.resumed_after == 0
    assert checkpoint is not None and checkpoint.full is True and checkpoint.head_seq == 4


def test_no_write_lock_is_held_while_hashing_on_sqlite(
    db_url: str, engine: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the chain is being hashed, another connection can still take the write lock."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's database-wide write lock")
    taken: list[bool] = []

    def walk_then_try_to_write(session: Session, walk: ChainWalk) -> tuple[int, str] | None:
        problem = walk_events(session, walk)
        other = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            taken.append(True)
            other.rollback()
        except sqlite3.OperationalError:
            taken.append(False)
        finally:
            other.close()
        return problem

    monkeypatch.setattr(checkpoint_module, "walk_events", walk_then_try_to_write)
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 3)
        verify_and_remember(factory)
        append(factory, 2)
        result = verify_and_remember(factory)
    assert result.ok and result.checked == 2 and taken == [True]
