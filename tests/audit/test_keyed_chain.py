from __future__ import annotations

from collections.abc import Callable

import pytest
from keyed import KEY, OTHER_KEY, append, keyed_factory, rewrite_without_key
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import AuditKeyring, key_id_of, verify_chain
from deshi.audit.chain import GENESIS_HASH
from deshi.db.tables import AuditEvent, User
from deshi.errors import ServiceUnavailable

Tamper = Callable[[str], None]


def test_keyed_events_name_their_key_and_verify_with_it(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 3)
        with factory() as session:
            key_ids = session.scalars(select(AuditEvent.key_id)).all()
            result = verify_chain(session)
    assert key_ids == [key_id_of(KEY)] * 3
    assert result.ok and result.checked == 3 and result.keyed_from == 1 and result.head_seq == 3


def test_a_chain_recomputed_without_the_key_is_detected(
    db_url: str, engine: object, tamper: Tamper
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 6)
        tamper("SELECT 1")  # lift the append-only guard
        rewrite_without_key(factory, from_seq=4, after={"i": 99})
        with factory() as session:
            result = verify_chain(session)
    assert not result.ok and result.first_bad_seq == 4
    assert "not keyed, but follows keyed event 1" in (result.reason or "")


def test_a_whole_chain_recomputed_without_the_key_verifies_only_as_unkeyed(
    db_url: str, engine: object, tamper: Tamper
) -> None:
    """Only an anchor catches a rewrite of every event (test_anchor); the chain says so."""
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 4)
        tamper("SELECT 1")
        rewrite_without_key(factory, from_seq=1, after={"i": 99}, prev_hash=GENESIS_HASH)
        with factory() as session:
            result = verify_chain(session)
    assert result.ok and result.keyed_from is None


def test_a_rotated_keyring_verifies_the_events_of_the_older_key(
    db_url: str, engine: object
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 3)
    with keyed_factory(db_url, OTHER_KEY) as factory, factory() as session:
        assert not verify_chain(session).ok  # events of a key it does not hold
        result = verify_chain(session, keyring=AuditKeyring((OTHER_KEY, KEY)))
    assert result.ok and result.keyed_from == 1  # a rotated keyring verifies the older events


def test_an_unknown_key_breaks_the_chain_at_its_first_event(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 2)
        with factory() as session:
            result = verify_chain(session, keyring=AuditKeyring((OTHER_KEY,)))
    assert not result.ok and result.first_bad_seq == 1
    assert key_id_of(KEY) in (result.reason or "")


def test_an_unkeyed_chain_is_keyed_from_the_first_event_written_with_a_key(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    append(session_factory, 3)  # an engine without keys: the chain as deshi wrote it before
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 2)
        with factory() as session:
            result = verify_chain(session)
            key_ids = session.scalars(select(AuditEvent.key_id).order_by(AuditEvent.seq)).all()
    assert result.ok and result.checked == 5 and result.keyed_from == 4
    assert key_ids == [None, None, None, key_id_of(KEY), key_id_of(KEY)]


def test_writing_to_a_keyed_chain_without_the_key_is_refused(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 1)
    with pytest.raises(ServiceUnavailable, match="no audit key is configured"):
        append(session_factory, 1)
    with session_factory() as session:
        assert session.scalars(select(AuditEvent.seq)).all() == [1]


def test_an_emptied_log_of_a_workspace_with_users_is_broken(
    session_factory: sessionmaker[Session], tamper: Tamper
) -> None:
    append(session_factory, 3)
    with session_factory() as session, session.begin():
        session.add(User(email="a@example.com", display_name="A"))
    tamper("DELETE FROM audit_events")
    with session_factory() as session:
        result = verify_chain(session)
    assert not result.ok and result.first_bad_seq == 1
    assert "events were deleted" in (result.reason or "")
