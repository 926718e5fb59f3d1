"""Signed anchors of the audit log's head, kept outside the database to prove its length.

A chain, keyed or not, cannot tell that its newest events were deleted: what is left is a
shorter valid chain. An anchor records the head (the last event's seq and hash, and when) signed
with the audit key. Kept elsewhere (a file on another machine, a ticket, a webhook receiver),
it lets `check_anchor` prove that the log still holds the anchored event unchanged: a shorter
log, or one whose anchored event differs (the chain was rewritten), fails. Since each hash
covers the previous one, the anchored hash pins every event up to it.

    {"format": "deshi-audit-anchor/1", "seq": 812, "hash": "…", "event_at": "…",
     "anchored_at": "…", "keyed_from": 1, "key_id": "…", "signature": "…"}

The signature is an HMAC-SHA256 under the audit key over the other fields, so an anchor cannot
be made or edited without the key, and an anchor signed with another key is refused.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from deshi.audit.chain import GENESIS_HASH, canonical_json, keyed_digest
from deshi.audit.checkpoint import verify_incrementally
from deshi.audit.keys import AuditKeyring, keyring_of
from deshi.audit.listing import audit_departments
from deshi.audit.service import VerifyResult, verify_chain
from deshi.db.base import utcnow
from deshi.db.tables import AuditEvent
from deshi.errors import IntegrityError, ServiceUnavailable, ValidationFailed
from deshi.permissions import Principal

__all__ = ["ANCHOR_FORMAT", "Anchor", "check_anchor", "parse_anchor", "sign_head", "sign_head_for"]

ANCHOR_FORMAT = "deshi-audit-anchor/1"


@dataclass(frozen=True, slots=True)
class Anchor:
    """The signed head of the audit log at `anchored_at` (seq 0: the log was empty)."""

    seq: int
    hash: str
    event_at: datetime | None  # when the head event was written
    anchored_at: datetime
    keyed_from: int | None  # seq of the first keyed event, as verified when anchored
    key_id: str
    signature: str = ""

    def to_json(self) -> dict[str, Any]:
        """The anchor as its JSON document (what `deshi audit anchor` writes)."""
        document = {"format": ANCHOR_FORMAT, **asdict(self)}
        parsed: dict[str, Any] = json.loads(canonical_json(document))  # datetimes: ISO 8601
        return parsed

    def signed_message(self) -> bytes:
        """What the signature covers: every field but the signature itself."""
        document = self.to_json()
        del document["signature"]
        return b"deshi audit anchor\n" + canonical_json(document).encode("utf-8")


def sign_head(
    session: Session,
    *,
    keyring: AuditKeyring | None = None,
    now: datetime | None = None,
    incremental: bool = False,
) -> Anchor:
    """Verify the chain and sign its head with the current audit key.

    ServiceUnavailable without an audit key; IntegrityError when the chain is broken (a broken
    head is not worth signing). Run it in a read-only session (it verifies the whole log, or
    with `incremental` the events after the remembered verified prefix: `deshi.audit.checkpoint`).
    """
    keyring = keyring if keyring is not None else keyring_of(session)
    current = keyring.current
    if current is None:
        raise ServiceUnavailable(
            "signing the audit log's head needs an audit key (DESHI_AUDIT_KEY or "
            "DESHI_AUDIT_KEY_FILE)"
        )
    verify = verify_incrementally if incremental else verify_chain
    result = verify(session, keyring=keyring)
    if not result.ok:
        raise IntegrityError(
            f"the audit chain is broken at event {result.first_bad_seq}: {result.reason}; "
            "no anchor was signed"
        )
    head = session.get(AuditEvent, result.head_seq) if result.head_seq else None
    key_id, key = current
    anchor = Anchor(
        seq=result.head_seq,
        hash=result.head_hash,
        event_at=head.at if head is not None else None,
        anchored_at=now or utcnow(),
        keyed_from=result.keyed_from,
        key_id=key_id,
    )
    return replace(anchor, signature=keyed_digest(key, anchor.signed_message()))


def sign_head_for(session: Session, principal: Principal, *, incremental: bool = True) -> Anchor:
    """`sign_head` for someone who may read the audit log (auditor, owner or admin somewhere):
    the head reveals no event, only how many there are and the last one's hash. Incremental by
    default: the prefix was verified before, and the anchor pins it by hash from now on."""
    audit_departments(principal)  # PermissionDenied for anyone else
    return sign_head(session, incremental=incremental)


def parse_anchor(text: str) -> Anchor:
    """An anchor from its JSON document; ValidationFailed when it is not one."""
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != ANCHOR_FORMAT:
            raise ValueError(f"not a {ANCHOR_FORMAT} document")
        event_at = document["event_at"]
        return Anchor(
            seq=_integer(document["seq"]),
            hash=str(document["hash"]),
            event_at=datetime.fromisoformat(event_at) if event_at is not None else None,
            anchored_at=datetime.fromisoformat(document["anchored_at"]),
            keyed_from=None if document["keyed_from"] is None else _integer(document["keyed_from"]),
            key_id=str(document["key_id"]),
            signature=str(document["signature"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationFailed(f"not an audit anchor: {error}", field="anchor") from None


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value


def check_anchor(
    session: Session, anchor: Anchor, *, keyring: AuditKeyring | None = None
) -> VerifyResult:
    """Verify the chain, and that it still holds the anchored head: not ok when the anchor's
    signature does not verify, the log is shorter than anchored, or the anchored event differs.
    """
    keyring = keyring if keyring is not None else keyring_of(session)
    refused = _signature_problem(anchor, keyring)
    result = verify_chain(session, keyring=keyring)
    if refused is not None:
        return replace(result, ok=False, first_bad_seq=None, reason=refused)
    if not result.ok:
        return result
    problem = _departure(session, result, anchor)
    if problem is None:
        return result
    bad_seq, reason = problem
    return replace(result, ok=False, first_bad_seq=bad_seq, reason=reason)


def _signature_problem(anchor: Anchor, keyring: AuditKeyring) -> str | None:
    key = keyring.get(anchor.key_id)
    if key is None:
        return (
            f"the anchor is signed with audit key {anchor.key_id}, which is not configured: refused"
        )
    if not hmac.compare_digest(keyed_digest(key, anchor.signed_message()), anchor.signature):
        return "the anchor's signature does not verify: it was altered, refused"
    return None


def _departure(session: Session, result: VerifyResult, anchor: Anchor) -> tuple[int, str] | None:
    """How the verified log departs from the anchor, as (seq, reason); None if it holds it."""
    when = anchor.anchored_at.isoformat()
    if result.head_seq < anchor.seq:
        return result.head_seq + 1, (
            f"the log ends at event {result.head_seq}, but event {anchor.seq} was anchored at "
            f"{when}: events {result.head_seq + 1} to {anchor.seq} were deleted"
        )
    event = session.get(AuditEvent, anchor.seq) if anchor.seq else None
    stored = event.hash if event is not None else GENESIS_HASH
    if stored != anchor.hash:
        return anchor.seq, (
            f"event {anchor.seq} is not the event anchored at {when}: the log was rewritten"
        )
    return None
