from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from keyed import KEY, OTHER_KEY, append, keyed_factory, rewrite_without_key
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import (
    ANCHOR_FORMAT,
    Anchor,
    AuditKeyring,
    check_anchor,
    key_id_of,
    parse_anchor,
    sign_head,
)
from deshi.audit.chain import GENESIS_HASH
from deshi.errors import IntegrityError, ServiceUnavailable, ValidationFailed

Tamper = Callable[[str], None]


@pytest.fixture
def keyed(db_url: str, engine: object) -> sessionmaker[Session]:
    """Sessions whose engine keys the chain with KEY, on a log of ten keyed events."""
    with keyed_factory(db_url, KEY) as factory:
        append(factory, 10)
        yield factory


def _anchor(factory: sessionmaker[Session]) -> Anchor:
    with factory() as session:
        return sign_head(session, now=datetime(2026, 12, 1, tzinfo=UTC))


def _check(factory: sessionmaker[Session], anchor: Anchor, *keys: bytes) -> tuple[bool, str]:
    with factory() as session:
        result = check_anchor(session, anchor, keyring=AuditKeyring(keys) if keys else None)
    return result.ok, result.reason or ""


def test_the_anchor_is_the_signed_verified_head(keyed: sessionmaker[Session]) -> None:
    anchor = _anchor(keyed)
    assert (anchor.seq, anchor.keyed_from, anchor.key_id) == (10, 1, key_id_of(KEY))
    assert len(anchor.signature) == 64 and anchor.event_at is not None
    assert _check(keyed, anchor) == (True, "")
    append(keyed, 2)  # later events do not spoil an older anchor
    assert _check(keyed, anchor) == (True, "")


def test_an_anchor_round_trips_through_its_json(keyed: sessionmaker[Session]) -> None:
    anchor = _anchor(keyed)
    document = json.dumps(anchor.to_json())
    assert json.loads(document)["format"] == ANCHOR_FORMAT
    assert parse_anchor(document) == anchor


@pytest.mark.parametrize(
    ("delete", "reason"),
    [
        ("DELETE FROM audit_events WHERE seq > 7", "events 8 to 10 were deleted"),
        ("DELETE FROM audit_events WHERE seq > 5", "the log ends at event 5"),
        ("DELETE FROM audit_events", "events 1 to 10 were deleted"),
    ],
    ids=["newest-rows", "first-five-kept", "all"],
)
def test_a_log_cut_short_fails_its_anchor(
    keyed: sessionmaker[Session], tamper: Tamper, delete: str, reason: str
) -> None:
    anchor = _anchor(keyed)
    tamper(delete)
    ok, why = _check(keyed, anchor)
    assert not ok and reason in why


def test_a_chain_recomputed_without_the_key_fails_its_anchor(
    keyed: sessionmaker[Session], tamper: Tamper
) -> None:
    anchor = _anchor(keyed)
    tamper("SELECT 1")
    rewrite_without_key(keyed, from_seq=1, after={"i": 99}, prev_hash=GENESIS_HASH)
    ok, why = _check(keyed, anchor)
    assert not ok and "event 10 is not the event anchored" in why


def test_an_anchor_signed_with_another_key_is_refused(
    db_url: str, keyed: sessionmaker[Session]
) -> None:
    with keyed_factory(db_url, OTHER_KEY, KEY) as other:  # rotated: signs with OTHER_KEY
        foreign = _anchor(other)
    ok, why = _check(keyed, foreign)
    assert (
        not ok and f"signed with audit key {key_id_of(OTHER_KEY)}, which is not configured" in why
    )


def test_an_altered_anchor_is_refused(keyed: sessionmaker[Session], tamper: Tamper) -> None:
    anchor = _anchor(keyed)
    tamper("DELETE FROM audit_events WHERE seq > 5")
    shortened = dataclasses.replace(anchor, seq=5, hash=anchor.hash)  # claim a shorter head
    ok, why = _check(keyed, shortened)
    assert not ok and "signature does not verify" in why


def test_signing_needs_a_key_and_an_intact_chain(
    session_factory: sessionmaker[Session], keyed: sessionmaker[Session], tamper: Tamper
) -> None:
    with pytest.raises(ServiceUnavailable, match="needs an audit key"):
        _anchor(session_factory)
    tamper("""UPDATE audit_events SET "after" = '{"i": 99}' WHERE seq = 3""")
    with pytest.raises(IntegrityError, match="broken at event 3"):
        _anchor(keyed)


def test_the_empty_log_can_be_anchored(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        anchor = _anchor(factory)
        assert (anchor.seq, anchor.hash, anchor.event_at) == (0, GENESIS_HASH, None)
        append(factory, 1)
        assert _check(factory, anchor) == (True, "")


@pytest.mark.parametrize(
    "text", ["", "[]", '{"format": "other"}', '{"format": "deshi-audit-anchor/1", "seq": -1}']
)
def test_what_is_not_an_anchor_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed, match="not an audit anchor"):
        parse_anchor(text)


def test_anchor_files_are_written_whole(tmp_path: Path, keyed: sessionmaker[Session]) -> None:
    """The CLI's atomic write leaves no temporary file behind."""
    from deshi.cli.audit import _write_atomically

    (tmp_path / "anchors").mkdir()
    target = tmp_path / "anchors" / "anchor.json"
    _write_atomically(target, json.dumps(_anchor(keyed).to_json()))
    assert [p.name for p in target.parent.iterdir()] == ["anchor.json"]
    assert parse_anchor(target.read_text()).seq == 10
