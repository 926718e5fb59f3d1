"""The append-only, hash-chained audit log: `record_event` to append, `verify_chain` to check,
`sign_head` and `check_anchor` to prove its length, `audit_departments` and `list_events` to read
the events a principal may see (filtered: `deshi.audit.query`; named: `deshi.audit.names`), and
`export_events` / `verify_export` to take a filtered range away with the proof that checks it
(`deshi.audit.export`).

Why a keyed chain rather than signed checkpoints. Someone who can write to the database can
rewrite an event and recompute every later SHA-256, and the plain chain still verifies. Two
remedies were weighed:

- a keyed chain: each event's hash is an HMAC-SHA256 under a key kept outside the database
  (`DESHI_AUDIT_KEY` / `DESHI_AUDIT_KEY_FILE`), so a rewrite needs the key;
- signed checkpoints: the plain chain, plus a signed (seq, hash) stored every so often.

Checkpoints leave the events after the last checkpoint rewritable, need a schedule to be any
good, and their rows can be deleted along with the events. The keyed chain protects every
event from the moment it is written, at the cost of one HMAC instead of one SHA-256 per event,
and needs no job. So the chain is keyed (`deshi.audit.keys`), and anchors (`deshi.audit.anchor`)
do what no chain can: prove that the newest events were not cut off, by signing the head and
keeping it elsewhere. The key is symmetric, so whoever verifies could also forge; it belongs
to the operators, not to whoever administers the database, and anchors are checked where the
key is.

Existing unkeyed chains: each event records the id of the key that made its hash (`key_id`,
migration 0011). Events without one verify by SHA-256 as before; from the first event written
with a key configured, every event is keyed, and an unkeyed event after a keyed one breaks the
chain (a rewrite without the key cannot fall back to SHA-256). The first keyed event covers the
hash of the last unkeyed one, so the unkeyed prefix is pinned too.

Views verify incrementally (`verify_and_remember`, `deshi.audit.checkpoint`): a verified prefix
is remembered and only later events are hashed; the remembered prefix adds no trust, so the
page's "intact" means intact since the last full verification (`deshi audit verify`) plus the
new events. The checkpoint module's docstring gives the threat model.
"""

from deshi.audit.anchor import (
    ANCHOR_FORMAT,
    Anchor,
    check_anchor,
    parse_anchor,
    sign_head,
    sign_head_for,
)
from deshi.audit.checkpoint import remember_verified, verify_and_remember, verify_incrementally
from deshi.audit.export import (
    EXPORT_FORMAT,
    ExportCheck,
    ExportProof,
    check_against_log,
    export_events,
    read_export,
    verify_export,
)
from deshi.audit.keys import AuditKeyring, key_id_of, keyring_of
from deshi.audit.listing import EventPage, audit_departments, list_events, page_events
from deshi.audit.names import Names, names_for
from deshi.audit.query import EventFilter, EventPageQuery, ExportQuery
from deshi.audit.service import ObjectRef, VerifyResult, record_event, snapshot, verify_chain

__all__ = [
    "ANCHOR_FORMAT",
    "EXPORT_FORMAT",
    "Anchor",
    "AuditKeyring",
    "EventFilter",
    "EventPage",
    "EventPageQuery",
    "ExportCheck",
    "ExportProof",
    "ExportQuery",
    "Names",
    "ObjectRef",
    "VerifyResult",
    "audit_departments",
    "check_against_log",
    "check_anchor",
    "export_events",
    "key_id_of",
    "keyring_of",
    "list_events",
    "names_for",
    "page_events",
    "parse_anchor",
    "read_export",
    "record_event",
    "remember_verified",
    "sign_head",
    "sign_head_for",
    "snapshot",
    "verify_and_remember",
    "verify_chain",
    "verify_export",
    "verify_incrementally",
]
