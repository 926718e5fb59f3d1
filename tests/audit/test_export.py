"""An export of a filtered range carries a proof: it verifies as exported, and any edit fails."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from keyed import KEY, OTHER_KEY, keyed_factory
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import (
    AuditKeyring,
    EventFilter,
    ObjectRef,
    check_against_log,
    export_events,
    read_export,
    record_event,
    verify_export,
)
from deshi.audit.chain import GENESIS_HASH
from deshi.audit.export import ExportFormat
from deshi.auth.service import create_user
from deshi.errors import ValidationFailed

KEYS = AuditKeyring((KEY,))


def _log(factory: sessionmaker[Session]) -> None:
    """A person, then ten events alternating two actions, about items 0…9, with Japanese."""
    with factory.begin() as session:
        create_user(session, actor="system:init", email="aiko@example.com", display_name="Aiko")
    for i in range(10):
        with factory.begin() as session:
            record_event(
                session,
                actor="user:1" if i % 2 else "cli:ops",
                action="item.review" if i % 2 else "item.claim",
                obj=ObjectRef("items", str(i)),
                before={"label": None, "note": "請求書"},
                after={"label": f"label_{i}", "note": "請求書"},
            )


def _export(factory: sessionmaker[Session], fmt: ExportFormat, **filters: object) -> str:
    query = EventFilter.model_validate(filters)
    return "".join(export_events(factory, departments=None, filters=query, fmt=fmt))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_whole_range_export_verifies_end_to_end(
    db_url: str, engine: object, fmt: ExportFormat
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        _log(factory)
        text = _export(factory, fmt)
        check = verify_export(text, keyring=KEYS)
        events, _ = read_export(text)
        with factory() as session:
            against = check_against_log(session, check, events)
    assert check.ok and check.fully_checked, check.reason
    assert check.proof.complete and check.proof.first_seq == 1 and check.proof.last_seq == 11
    assert check.proof.prev_hash == GENESIS_HASH and check.hashes_checked == 11
    assert against.ok and against.against_log
    assert [e.actor_name for e in events[1:3]] == ["cli:ops", "Aiko"]


def test_a_filtered_export_holds_only_the_matches_and_is_sealed(
    db_url: str, engine: object
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        _log(factory)
        text = _export(factory, "jsonl", actor="aiko", q="label_")
        check = verify_export(text, keyring=KEYS)
        events, proof = read_export(text)
        with factory() as session:
            against = check_against_log(session, check, events)
    assert check.ok and check.seal == "valid" and not proof.complete
    assert [e.seq for e in events] == [3, 5, 7, 9, 11]
    assert proof.filters == {"actor": "aiko", "q": "label_"} and against.ok


def test_a_japanese_search_finds_escaped_json(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        _log(factory)
        events, _ = read_export(_export(factory, "jsonl", q="請求"))
    assert len(events) == 10


def _edit_event(text: str, seq: int, change: dict[str, object]) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        if record.get("seq") == seq and record["record"] == "event":
            lines[i] = json.dumps({**record, **change})
    return "\n".join(lines) + "\n"


def test_an_edited_event_fails(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        _log(factory)
        text = _export(factory, "jsonl")
    tampered = _edit_event(text, 5, {"after": {"label": "forged", "note": "請求書"}})
    check = verify_export(tampered, keyring=KEYS)
    assert not check.ok and "event 5 was altered" in (check.reason or "")


def test_a_removed_line_fails_even_in_a_filtered_export(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        _log(factory)
        text = _export(factory, "jsonl", action="item.review")
    lines = text.splitlines()
    check = verify_export("\n".join(lines[:1] + lines[2:]), keyring=KEYS)
    assert not check.ok and "does not match the exported events" in (check.reason or "")


def test_a_rewritten_proof_fails_its_seal(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        _log(factory)
        text = _export(factory, "jsonl", action="item.review")
    lines = text.splitlines()
    proof = json.loads(lines[-1])
    proof["filters"] = {"action": "item.claim"}
    check = verify_export("\n".join([*lines[:-1], json.dumps(proof)]), keyring=KEYS)
    assert not check.ok and check.seal == "invalid"


def test_without_the_key_only_links_are_checked(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        _log(factory)
        text = _export(factory, "csv")
    check = verify_export(text, keyring=AuditKeyring((OTHER_KEY,)))
    assert check.ok and not check.fully_checked
    assert check.seal == "unchecked" and check.hashes_unchecked == 11


def test_an_unkeyed_log_verifies_by_sha256_and_a_cut_export_is_refused(
    session_factory: sessionmaker[Session],
) -> None:
    _log(session_factory)
    text = _export(session_factory, "csv", since="2000-01-01T00:00:00")
    check = verify_export(text, keyring=AuditKeyring())
    assert check.ok and check.seal == "absent" and check.hashes_checked == 11
    with pytest.raises(ValidationFailed, match="proof record is missing"):
        read_export("\r\n".join(text.splitlines()[:-1]))


def test_an_export_no_longer_matches_a_log_that_lost_an_event(
    db_url: str, engine: object, tamper: Callable[[str], None]
) -> None:
    with keyed_factory(db_url, KEY) as factory:
        _log(factory)
        text = _export(factory, "jsonl", action="item.review")
        check = verify_export(text, keyring=KEYS)
        events, _ = read_export(text)
        tamper("DELETE FROM audit_events WHERE seq = 5")
        with factory() as session:
            against = check_against_log(session, check, events)
    assert check.ok and not against.ok
    assert "not selected [5]" in (against.reason or "")


def test_search_wildcards_are_literal(db_url: str, engine: object) -> None:
    with keyed_factory(db_url, KEY) as factory:
        _log(factory)
        percent, _ = read_export(_export(factory, "jsonl", q="%"))
        underscore, _ = read_export(_export(factory, "jsonl", q="label_"))
    assert percent == [] and len(underscore) == 10
