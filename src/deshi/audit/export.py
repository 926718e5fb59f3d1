"""Export a filtered range of the audit log as CSV or JSONL, with the proof that checks it.

An export is a stream of records, one event per line (CSV row or JSON line) in chain order,
then one `proof` record last (it is computed while streaming, so it ends the file):

    {"record": "event", "seq": 812, "at": "…+00:00", "actor": "user:3", "actor_name": "Aiko",
     "action": "item.review", "object_type": "reviews", "object_id": "90", "object_name": "…",
     "department_id": 1, "key_id": "…", "before": …, "after": …, "prev_hash": "…", "hash": "…"}
    {"record": "proof", "format": "deshi-audit-export/1", "first_seq": 800, "last_seq": 812,
     "prev_hash": "…", "head_hash": "…", "count": 13, "complete": true, "log_head_seq": 9000,
     "filters": {…}, "departments": [1], "exported_at": "…", "digest": "…", "key_id": "…",
     "seal": "…"}

What the proof lets a verifier check (`verify_export`, `deshi audit verify-export FILE`):

- each event's hash, recomputed from its own fields and `prev_hash` exactly as the chain does
  (`deshi.audit.chain`): SHA-256 for unkeyed events, HMAC-SHA256 under the audit key for keyed
  ones, so the key is needed for those;
- the links: where two exported events are neighbours in the chain (seq n and n+1), the second
  must link to the first's hash. `prev_hash` is the hash of the event before the range and
  `head_hash` that of its last event; when the export holds every event of the range
  (`complete`: a period, no other filter, read by someone who reads every department) the
  whole range links end to end from `prev_hash` to `head_hash`;
- `digest` (SHA-256 over the exported events' hashed fields) and `seal` (HMAC-SHA256 of the
  proof under the audit key `key_id`): a line removed, added or edited, or filters or range
  misstated, breaks them; a filtered export's completeness rests on the seal;
- against the log itself (`--db`): `prev_hash` and every exported hash are the stored ones, and
  the same filters select exactly the exported events (completeness, with names as they are now).

`actor_name` and `object_name` are presentation, resolved when exporting: not hashed, not
sealed. Times are UTC (ISO 8601 with +00:00). Events of departments the exporter cannot read
never appear, not even as hashes.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit.chain import GENESIS_HASH, EventFields, canonical_json, event_hash, keyed_digest
from deshi.audit.keys import AuditKeyring, keyring_of
from deshi.audit.listing import iter_events
from deshi.audit.names import actor_name, names_for, object_name
from deshi.audit.query import EventFilter
from deshi.db.base import utcnow
from deshi.db.tables import AuditEvent
from deshi.errors import ValidationFailed

__all__ = [
    "CSV_COLUMNS",
    "EXPORT_FORMAT",
    "MEDIA_TYPES",
    "ExportCheck",
    "ExportFormat",
    "ExportProof",
    "ExportedEvent",
    "SealStatus",
    "check_against_log",
    "export_events",
    "read_export",
    "verify_export",
]

EXPORT_FORMAT = "deshi-audit-export/1"
ExportFormat = Literal["csv", "jsonl"]
# The seal: it verifies, it does not, there is none, or its key is not configured here.
SealStatus = Literal["valid", "invalid", "absent", "unchecked"]
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
CSV_COLUMNS = (
    "record", "seq", "at", "actor", "actor_name", "action", "object_type", "object_id",
    "object_name", "department_id", "key_id", "before", "after", "prev_hash", "hash", "proof",
)  # fmt: skip
_BATCH = 500


@dataclass(frozen=True, slots=True)
class ExportedEvent:
    """One event as exported: the hashed fields, the links, and names for reading."""

    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    department_id: int | None
    key_id: str | None
    prev_hash: str
    hash: str
    actor_name: str = ""
    object_name: str = ""

    @classmethod
    def of(cls, event: AuditEvent, *, actor: str = "", obj: str = "") -> ExportedEvent:
        """An exported event from a stored one."""
        return cls(
            seq=event.seq, at=event.at, actor=event.actor, action=event.action,
            object_type=event.object_type, object_id=event.object_id, before=event.before,
            after=event.after, department_id=event.department_id, key_id=event.key_id,
            prev_hash=event.prev_hash, hash=event.hash, actor_name=actor, object_name=obj,
        )  # fmt: skip

    def fields(self) -> EventFields:
        """The hashed content, as the chain hashes it."""
        return EventFields(
            seq=self.seq, at=self.at, actor=self.actor, action=self.action,
            object_type=self.object_type, object_id=self.object_id, before=self.before,
            after=self.after, department_id=self.department_id, key_id=self.key_id,
        )  # fmt: skip

    def hashed_record(self) -> dict[str, Any]:
        """What the digest covers: the hashed fields and the links (no names)."""
        return {  # built by hand: dataclasses.asdict deep-copies before/after (5x slower)
            "seq": self.seq, "at": self.at.astimezone(UTC).isoformat(), "actor": self.actor,
            "action": self.action, "object_type": self.object_type, "object_id": self.object_id,
            "before": self.before, "after": self.after, "department_id": self.department_id,
            "key_id": self.key_id, "prev_hash": self.prev_hash, "hash": self.hash,
        }  # fmt: skip

    def to_json(self, hashed: dict[str, Any] | None = None) -> dict[str, Any]:
        """The event's JSONL record (`hashed`: its hashed record, when already built)."""
        record = hashed if hashed is not None else self.hashed_record()
        return {"record": "event", **record, "actor_name": self.actor_name,
                "object_name": self.object_name}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExportProof:
    """The proof record that ends an export (see the module docstring)."""

    first_seq: int | None  # None: the export holds no event
    last_seq: int | None
    prev_hash: str | None  # hash of event first_seq - 1 (GENESIS_HASH before event 1)
    head_hash: str | None  # hash of event last_seq
    count: int
    complete: bool  # every event from first_seq to last_seq is in the export
    log_head_seq: int  # the log's newest event when exported: nothing after it was read
    filters: dict[str, Any]
    departments: list[int] | None  # None: every department (a workspace admin's export)
    exported_at: str
    digest: str  # SHA-256 (hex) over the events' hashed records, one canonical JSON line each
    key_id: str | None = None  # the audit key that sealed it
    seal: str | None = None  # HMAC-SHA256 (hex) of the other fields under that key
    format: str = EXPORT_FORMAT

    def to_json(self) -> dict[str, Any]:
        """The proof as its JSON record."""
        return {"record": "proof", **asdict(self)}

    def sealed_message(self) -> bytes:
        """What the seal covers: every field but the seal."""
        document = asdict(self)
        del document["seal"]
        return b"deshi audit export\n" + canonical_json(document).encode("utf-8")


class _ProofBuilder:
    """Accumulates the proof while events stream past."""

    def __init__(self) -> None:
        self.count = 0
        self.first: ExportedEvent | None = None
        self.last: ExportedEvent | None = None
        self.digest = hashlib.sha256()

    def add(self, event: ExportedEvent, hashed: dict[str, Any] | None = None) -> None:
        self.count += 1
        self.first = self.first or event
        self.last = event
        record = hashed if hashed is not None else event.hashed_record()
        self.digest.update(canonical_json(record).encode("utf-8") + b"\n")

    def proof(self, **context: Any) -> ExportProof:
        first, last = self.first, self.last
        span = last.seq - first.seq + 1 if first is not None and last is not None else 0
        return ExportProof(
            first_seq=first.seq if first else None,
            last_seq=last.seq if last else None,
            prev_hash=first.prev_hash if first else None,
            head_hash=last.hash if last else None,
            count=self.count,
            complete=self.count == span,
            digest=self.digest.hexdigest(),
            **context,
        )


def _seal(proof: ExportProof, keyring: AuditKeyring) -> ExportProof:
    """The proof sealed with the current audit key (unsealed without one)."""
    current = keyring.current
    if current is None:
        return proof
    key_id, key = current
    unsealed = replace(proof, key_id=key_id, seal=None)
    return replace(unsealed, seal=keyed_digest(key, unsealed.sealed_message()))


# --- writing ---------------------------------------------------------------------------------


def export_events(
    factory: sessionmaker[Session],
    *,
    departments: Collection[int] | None,
    filters: EventFilter,
    fmt: ExportFormat,
    keyring: AuditKeyring | None = None,
    on_proof: Callable[[ExportProof], None] | None = None,
) -> Iterator[str]:
    """The export as chunks of text: the events of `departments` (None: every one) matching
    `filters`, oldest first, up to the log's head when it starts, then the sealed proof (also
    handed to `on_proof`, for a caller that reports it).

    It reads in one read-only session held while the stream is consumed (no write lock: on
    SQLite a reader never blocks an ingest); events appended meanwhile are not included."""
    with factory() as session:
        keys = keyring if keyring is not None else keyring_of(session)
        head = session.scalar(select(func.max(AuditEvent.seq))) or 0
        builder = _ProofBuilder()
        if fmt == "csv":
            yield _csv_text([list(CSV_COLUMNS)])
        batch: list[AuditEvent] = []
        rows = iter_events(session, departments=departments, filters=filters, up_to=head)
        for event in rows:
            batch.append(event)
            if len(batch) == _BATCH:
                yield _chunk(session, batch, builder, fmt)
                batch = []
        if batch:
            yield _chunk(session, batch, builder, fmt)
        proof = builder.proof(
            log_head_seq=head,
            filters=filters.described(),
            departments=sorted(departments) if departments is not None else None,
            exported_at=utcnow().isoformat(),
        )
        sealed = _seal(proof, keys)
        if on_proof is not None:
            on_proof(sealed)
        yield _proof_text(sealed, fmt)


def _chunk(
    session: Session, batch: list[AuditEvent], builder: _ProofBuilder, fmt: ExportFormat
) -> str:
    names = names_for(session, batch)
    exported = [
        ExportedEvent.of(e, actor=actor_name(e.actor, names), obj=object_name(e, names))
        for e in batch
    ]
    records = []
    for event in exported:
        hashed = event.hashed_record()
        builder.add(event, hashed)
        records.append(event.to_json(hashed))
    if fmt == "jsonl":
        return "".join(canonical_json(record) + "\n" for record in records)
    return _csv_text(_csv_row(record) for record in records)


def _csv_row(record: dict[str, Any]) -> list[str]:
    return [_csv_cell(column, record.get(column)) for column in CSV_COLUMNS]


def _csv_cell(column: str, value: Any) -> str:
    """Texts as they are; before/after as canonical JSON (so they read back exactly)."""
    if column in ("before", "after"):
        return canonical_json(value)
    return "" if value is None else str(value)


def _csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _proof_text(proof: ExportProof, fmt: ExportFormat) -> str:
    document = canonical_json(proof.to_json())
    if fmt == "jsonl":
        return document + "\n"
    return _csv_text([["proof"] + [""] * (len(CSV_COLUMNS) - 2) + [document]])


# --- reading and verifying -------------------------------------------------------------------


def read_export(text: str) -> tuple[list[ExportedEvent], ExportProof]:
    """The events and the proof of an export (CSV or JSONL); ValidationFailed when the text is
    not one."""
    try:
        records = _jsonl_records(text) if text.lstrip().startswith("{") else _csv_records(text)
        if not records or records[-1].get("record") != "proof":
            raise ValueError("the proof record is missing: the export was cut short")
        events = [_event(record) for record in records[:-1]]
        return events, _proof(records[-1])
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationFailed(f"not an audit export: {error}", field="export") from None


def _jsonl_records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _csv_records(text: str) -> list[dict[str, Any]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise ValueError("the CSV header is not the export's")
    records: list[dict[str, Any]] = []
    for row in rows[1:]:
        cells = dict(zip(CSV_COLUMNS, row, strict=True))
        if cells["record"] == "proof":
            records.append(json.loads(cells["proof"]))
        else:
            records.append(_csv_event(cells))
    return records


def _csv_event(cells: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = dict(cells)
    record["seq"] = int(cells["seq"])
    record["department_id"] = int(cells["department_id"]) if cells["department_id"] else None
    record["key_id"] = cells["key_id"] or None
    record["before"], record["after"] = json.loads(cells["before"]), json.loads(cells["after"])
    return record


def _event(record: dict[str, Any]) -> ExportedEvent:
    if record.get("record") != "event":
        raise ValueError(f"expected an event record, found {record.get('record')!r}")
    department, key_id = record["department_id"], record["key_id"]
    return ExportedEvent(
        seq=_integer(record["seq"]), at=datetime.fromisoformat(record["at"]),
        actor=str(record["actor"]), action=str(record["action"]),
        object_type=str(record["object_type"]), object_id=str(record["object_id"]),
        before=record["before"], after=record["after"],
        department_id=None if department is None else _integer(department),
        key_id=None if key_id is None else str(key_id), prev_hash=str(record["prev_hash"]),
        hash=str(record["hash"]), actor_name=str(record.get("actor_name", "")),
        object_name=str(record.get("object_name", "")),
    )  # fmt: skip


def _proof(record: dict[str, Any]) -> ExportProof:
    if record.get("format") != EXPORT_FORMAT:
        raise ValueError(f"the proof is not {EXPORT_FORMAT}")
    fields = {name: record[name] for name in ExportProof.__dataclass_fields__}
    return ExportProof(**fields)


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class ExportCheck:
    """The outcome of checking an export; `ok` when nothing contradicts the proof."""

    ok: bool
    reason: str | None
    events: int
    proof: ExportProof
    hashes_checked: int = 0  # events whose hash was recomputed from their fields
    hashes_unchecked: int = 0  # keyed events whose audit key is not configured here
    seal: SealStatus = "absent"
    against_log: bool = False  # also compared with the stored log (`check_against_log`)

    @property
    def fully_checked(self) -> bool:
        """True when every hash and the seal were checked (nothing taken on trust)."""
        return self.ok and self.hashes_unchecked == 0 and self.seal == "valid"


def verify_export(text: str, *, keyring: AuditKeyring) -> ExportCheck:
    """Check an export against its own proof: hashes, links, digest and seal."""
    events, proof = read_export(text)
    checked, unchecked, problem = _check_events(events, keyring)
    problem = problem or _check_proof(events, proof)
    seal, seal_problem = _check_seal(proof, keyring)
    problem = problem or seal_problem
    return ExportCheck(
        ok=problem is None, reason=problem, events=len(events), proof=proof,
        hashes_checked=checked, hashes_unchecked=unchecked, seal=seal,
    )  # fmt: skip


def _check_events(
    events: list[ExportedEvent], keyring: AuditKeyring
) -> tuple[int, int, str | None]:
    """(hashes recomputed, keyed hashes without their key here, the first problem)."""
    checked = unchecked = 0
    previous: ExportedEvent | None = None
    keyed_from: int | None = None
    for event in events:
        problem = _order_problem(previous, event, keyed_from)
        verdict = _hash_verdict(event, keyring) if problem is None else None
        if verdict is False:
            problem = f"event {event.seq} was altered: its contents do not match its hash"
        if problem is not None:
            return checked, unchecked, problem
        checked += verdict is True
        unchecked += verdict is None
        if keyed_from is None and event.key_id is not None:
            keyed_from = event.seq
        previous = event
    return checked, unchecked, None


def _order_problem(
    previous: ExportedEvent | None, event: ExportedEvent, keyed_from: int | None
) -> str | None:
    """Why `event` cannot follow `previous` in an export, if it cannot."""
    if previous is not None and event.seq <= previous.seq:
        return f"event {event.seq} is out of order (after event {previous.seq})"
    if previous is not None and event.seq == previous.seq + 1 and event.prev_hash != previous.hash:
        return f"event {event.seq} does not link to event {previous.seq}'s hash"
    if event.key_id is None and keyed_from is not None:
        return f"event {event.seq} is not keyed, but follows keyed event {keyed_from}"
    return None


def _hash_verdict(event: ExportedEvent, keyring: AuditKeyring) -> bool | None:
    """True: the hash recomputes; False: it does not; None: its key is not configured here."""
    fields = event.fields()
    if event.key_id is not None:
        key = keyring.get(event.key_id)
        if key is None:
            return None
        return hmac.compare_digest(event_hash(fields, event.prev_hash, key=key), event.hash)
    return event.hash in (
        event_hash(fields, event.prev_hash),
        event_hash(fields, event.prev_hash, scoped=False),  # written before departments
    )


def _check_proof(events: list[ExportedEvent], proof: ExportProof) -> str | None:
    """How the events contradict the proof's claims, if they do."""
    builder = _ProofBuilder()
    for event in events:
        builder.add(event)
    found = builder.proof(
        log_head_seq=proof.log_head_seq, filters=proof.filters,
        departments=proof.departments, exported_at=proof.exported_at,
    )  # fmt: skip
    for name in ("count", "first_seq", "last_seq", "prev_hash", "head_hash", "complete", "digest"):
        if getattr(found, name) != getattr(proof, name):
            return f"the proof's {name} does not match the exported events: lines were changed"
    if proof.last_seq is not None and proof.last_seq > proof.log_head_seq:
        return "the proof's range ends after the log's head when exported"
    return None


def _check_seal(proof: ExportProof, keyring: AuditKeyring) -> tuple[SealStatus, str | None]:
    if proof.seal is None or proof.key_id is None:
        return "absent", None
    key = keyring.get(proof.key_id)
    if key is None:
        return "unchecked", None
    if not hmac.compare_digest(keyed_digest(key, proof.sealed_message()), proof.seal):
        return "invalid", "the proof's seal does not verify: the proof was altered"
    return "valid", None


def check_against_log(
    session: Session, check: ExportCheck, events: list[ExportedEvent]
) -> ExportCheck:
    """`check` also compared with the stored log: the range's previous hash and every exported
    hash are the stored ones, and the proof's filters select exactly the exported events."""
    proof = check.proof
    problem = check.reason
    if problem is None and proof.first_seq is not None and proof.last_seq is not None:
        problem = _log_departure(session, proof, events)
    return replace(check, ok=problem is None, reason=problem, against_log=True)


def _log_departure(session: Session, proof: ExportProof, events: list[ExportedEvent]) -> str | None:
    assert proof.first_seq is not None and proof.last_seq is not None
    before = proof.first_seq - 1
    stored_prev = (
        session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == before))
        if before
        else GENESIS_HASH
    )
    if stored_prev != proof.prev_hash:
        return f"event {before}, before the range, is not the one the export links to"
    filters = EventFilter.model_validate(proof.filters)
    selected = iter_events(
        session, departments=proof.departments, filters=filters,
        up_to=proof.last_seq, from_seq=proof.first_seq,
    )  # fmt: skip
    stored = {event.seq: event.hash for event in selected}
    exported = {event.seq: event.hash for event in events}
    if stored.keys() != exported.keys():
        missing = sorted(stored.keys() - exported.keys())
        extra = sorted(exported.keys() - stored.keys())
        return (
            f"the filters select other events in the log: missing {missing[:10]}, "
            f"not selected {extra[:10]}"
        )
    differing = [seq for seq, digest in exported.items() if stored[seq] != digest]
    if differing:
        return f"events {differing[:10]} differ from the stored log"
    return None
