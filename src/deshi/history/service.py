"""History import: rows of a team's past work become completed items with their human label.

An import is one transaction: rows are read in batches and inserted as they come (so a file of
any length imports in bounded memory), and a bad row, a refused label or a file with one label
rolls the whole import back: nothing is half-imported. Re-importing skips every row whose
`external_id` is stored already (a row without an id gets one from a hash of its text and
label), so an import can be repeated safely.

After the commit the agent is warm-started: the history joins the case memory and a retrain
calibrates the auto-complete threshold on it, cross-fitted as every retrain is
(`deshi.learning.service.retrain`). Then the label audit (`deshi.history.audit`) flags rows
whose label looks wrong. Imported items are `origin = history`: the live KPIs leave them out.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table as SqlTable
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import record_event
from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import HistoryImport, Item, LabelFlag, Process
from deshi.domain import FlagStatus, ItemOrigin, ItemStatus
from deshi.engine.agent import MIN_LABEL_COUNT
from deshi.errors import Conflict, ValidationFailed
from deshi.history import audit, golive
from deshi.history.models import (
    HistoryImportPublic,
    HistoryRowIn,
    HistoryState,
    HistorySummary,
)
from deshi.history.reader import HistoryRow, Table, batches
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import retrain
from deshi.permissions import Action, Principal
from deshi.processes.models import ProcessUpdate
from deshi.processes.service import apply_process_changes, get_process, get_process_for

__all__ = [
    "IMPORT_ACTION",
    "Progress",
    "history_state",
    "history_state_for",
    "import_history",
    "import_history_for",
    "processes_with_history",
    "rows_of_batch",
]

IMPORT_ACTION = Action.MANAGE_PROCESS  # owners and admins of the process's department
BATCH_ROWS = 1000
Progress = Callable[[str, int], None]  # (phase, rows read so far)
_PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(slots=True)
class _Tally:
    """What the rows of one import add up to, kept small: counts and one hash per text."""

    summary: HistorySummary
    seen_ids: set[str] = field(default_factory=set)
    labels: Counter[str] = field(default_factory=Counter)
    first_label: dict[bytes, str] = field(default_factory=dict)  # normalised text → label
    conflicting: set[bytes] = field(default_factory=set)
    handling: list[float] = field(default_factory=list)


def rows_of_batch(rows: Iterable[HistoryRowIn]) -> Iterator[HistoryRow]:
    """API rows as reader rows (numbered from 1 in the request)."""
    for number, row in enumerate(rows, start=1):
        yield HistoryRow(
            row=number,
            text=row.text.strip(),
            label=row.label.strip(),
            external_id=row.external_id,
            time=row.time,
            fields=dict(row.fields),
            handling_seconds=row.handling_seconds,
        )


def import_history_for(
    factory: sessionmaker[Session],
    *,
    principal: Principal,
    process_id: int,
    rows: Iterable[HistoryRow],
    registry: AgentRegistry,
    source: str = "api",
    table: Table | None = None,
    add_labels: bool = False,
    train: bool = True,
    audit_labels: bool = True,
    progress: Progress | None = None,
) -> HistorySummary:
    """`import_history` for a caller who must manage the process (owner or admin)."""
    with transaction(factory) as session:
        get_process_for(session, principal, process_id, IMPORT_ACTION)
    return import_history(
        factory,
        actor=principal.actor,
        process_id=process_id,
        rows=rows,
        registry=registry,
        source=source,
        table=table,
        add_labels=add_labels,
        train=train,
        audit_labels=audit_labels,
        progress=progress,
    )


def import_history(
    factory: sessionmaker[Session],
    *,
    actor: str,
    process_id: int,
    rows: Iterable[HistoryRow],
    registry: AgentRegistry,
    source: str = "api",
    table: Table | None = None,
    add_labels: bool = False,
    train: bool = True,
    audit_labels: bool = True,
    progress: Progress | None = None,
) -> HistorySummary:
    """Import rows in one transaction, then (when anything was new and `train`) retrain and
    (if `audit_labels`) audit the labels. Unknown labels are refused unless `add_labels` or the
    process has no labels yet; a file with one label only, or no rows, is refused."""
    summary = HistorySummary(
        source=source,
        format=table.format if table else None,
        encoding=table.encoding if table else None,
        rare_label_minimum=MIN_LABEL_COUNT,
    )
    started = time.perf_counter()
    with transaction(factory) as session:
        process = get_process(session, process_id)
        if process.archived_at is not None:
            raise Conflict(f"process {process_id} is archived and takes no history")
        tally = _Tally(summary)
        for batch in batches(iter(rows), BATCH_ROWS):
            _store_batch(session, process, batch, tally)
            if progress is not None:
                progress("read", summary.rows)
        _check_labels(session, process, tally, add_labels=add_labels, actor=actor)
        _finish_summary(session, process, tally, actor=actor)
        record = HistoryImport(
            process_id=process.id, actor=actor, source=source[:300], summary=summary.model_dump()
        )
        session.add(record)
        session.flush()
        summary.import_id = record.id
        record_event(
            session,
            actor=actor,
            action="history.import",
            obj=process,
            after={"import_id": record.id, **_audit_counts(summary)},
        )
    registry.invalidate(process_id)  # its agent was built without these items
    summary.seconds["import"] = round(time.perf_counter() - started, 2)
    if train and summary.imported:
        _warm_start(factory, process_id, registry, actor, summary, progress, audit_labels)
    with transaction(factory) as session:
        stored = session.get_one(HistoryImport, summary.import_id)
        stored.summary = summary.model_dump()
        if train and summary.imported:  # what autopilot would do now: the worker replays it
            golive.request_golive(session, process=get_process(session, process_id), actor=actor)
    return summary


def _store_batch(
    session: Session, process: Process, batch: list[HistoryRow], tally: _Tally
) -> None:
    summary = tally.summary
    fresh: list[tuple[HistoryRow, str]] = []
    for row in batch:
        summary.rows += 1
        if not row.text:
            summary.skipped_blank_text += 1
            continue
        if not row.label:
            summary.skipped_blank_label += 1
            continue
        key = row.external_id or _content_id(row)
        if key in tally.seen_ids:
            summary.repeated_ids += 1
            continue
        tally.seen_ids.add(key)
        fresh.append((row, key))
    now = utcnow()
    values = [_item_values(process.id, row, key, now) for row, key in fresh]
    inserted = _insert_new(session, values)
    for row, key in fresh:
        if key in inserted:
            _count(tally, row)
        else:
            summary.already_imported += 1
    summary.imported += len(inserted)


def _insert_new(session: Session, values: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose external id the process does not have yet; their ids.

    ON CONFLICT DO NOTHING finds the stored ones through the unique index, in one statement
    per batch; a SELECT per batch first would be planned on the statistics of an empty table
    (PostgreSQL, in the import's own transaction) and scan it, slowing each batch down.
    """
    if not values:
        return set()
    table = cast(SqlTable, Item.__table__)
    dialect = session.get_bind().dialect.name
    statement = (
        (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        .on_conflict_do_nothing(index_elements=["process_id", "external_id"])
        .returning(table.c.external_id)
    )
    inserted: list[str] = list(session.execute(statement, values).scalars())
    return set(inserted)


def _content_id(row: HistoryRow) -> str:
    """An id for a row without one: the same text and label get the same id on re-import."""
    digest = hashlib.sha256(f"{row.label}\x00{row.text}".encode()).hexdigest()[:40]
    return f"history:{digest}"


def _normalised(text: str) -> bytes:
    """A text's near-duplicate key: case, width, spacing and punctuation ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return hashlib.blake2b(_PUNCTUATION.sub(" ", folded).strip().encode(), digest_size=12).digest()


def _count(tally: _Tally, row: HistoryRow) -> None:
    tally.labels[row.label] += 1
    key = _normalised(row.text)
    first = tally.first_label.setdefault(key, row.label)
    if first != row.label:
        tally.conflicting.add(key)
        tally.summary.conflicting_duplicates += 1
    if row.handling_seconds is not None:
        tally.handling.append(row.handling_seconds)


def _item_values(process_id: int, row: HistoryRow, key: str, now: Any) -> dict[str, Any]:
    moment = row.time or now
    return {
        "process_id": process_id,
        "external_id": key,
        "text": row.text,
        "fields": row.fields,
        "status": ItemStatus.COMPLETED,
        "origin": ItemOrigin.HISTORY.value,
        "history_label": row.label,
        "handling_seconds": row.handling_seconds,
        "created_at": moment,
        "completed_at": moment,
    }


def _check_labels(
    session: Session, process: Process, tally: _Tally, *, add_labels: bool, actor: str
) -> None:
    """Refuse an empty import, one label only, or labels the process does not know (unless
    they may be added); add the new ones to the process, audited."""
    summary = tally.summary
    if summary.rows == 0:
        raise ValidationFailed("the file has a header but no rows", field="file")
    if summary.imported == 0 and summary.already_imported + summary.repeated_ids == 0:
        raise ValidationFailed(
            f"no row has both a text and a label ({summary.skipped_blank_text} blank texts, "
            f"{summary.skipped_blank_label} blank labels)",
            field="file",
        )
    known = [str(label) for label in process.labels or ()]
    new = [label for label in tally.labels if label not in known]
    everything = set(known) | set(tally.labels) | _history_labels(session, process.id)
    if summary.imported and len(everything) < 2:
        only = next(iter(everything))
        raise ValidationFailed(
            f"every row has the label {only!r}: a model needs at least two labels", field="label"
        )
    if new and known and not add_labels:
        listed = ", ".join(repr(label) for label in sorted(new)[:20])
        more = f" and {len(new) - 20} more" if len(new) > 20 else ""
        raise ValidationFailed(
            f"labels the process does not have: {listed}{more}; add them to the process or "
            "import with add_labels",
            field="label",
        )
    if new:
        apply_process_changes(
            session, actor=actor, process=process, changes=ProcessUpdate(labels=[*known, *new])
        )
        summary.labels_added = new


def _history_labels(session: Session, process_id: int) -> set[str]:
    query = select(Item.history_label).where(
        Item.process_id == process_id, Item.origin == ItemOrigin.HISTORY.value
    )
    return {str(label) for label in session.scalars(query.distinct()) if label is not None}


def _finish_summary(session: Session, process: Process, tally: _Tally, *, actor: str) -> None:
    """Label counts, rare labels and the handling-time baseline (set on the process when it
    has none: the measured minutes per item of the people who did this work)."""
    summary = tally.summary
    summary.labels = dict(tally.labels.most_common())
    totals = _history_counts(session, process.id)
    summary.rare_labels = sorted(label for label, n in totals.items() if n < MIN_LABEL_COUNT)
    if tally.handling:
        minutes = sum(tally.handling) / len(tally.handling) / 60.0
        summary.handling_minutes_mean = round(minutes, 3)
        if process.human_minutes_per_item is None:
            apply_process_changes(
                session,
                actor=actor,
                process=process,
                changes=ProcessUpdate(human_minutes_per_item=round(minutes, 3)),
            )


def _history_counts(session: Session, process_id: int) -> dict[str, int]:
    query = (
        select(Item.history_label, func.count())
        .where(Item.process_id == process_id, Item.origin == ItemOrigin.HISTORY.value)
        .group_by(Item.history_label)
    )
    return {str(label): int(n) for label, n in session.execute(query) if label is not None}


def _audit_counts(summary: HistorySummary) -> dict[str, Any]:
    keep = ("source", "rows", "imported", "already_imported", "repeated_ids", "labels_added")
    return {name: getattr(summary, name) for name in keep}


def _warm_start(
    factory: sessionmaker[Session],
    process_id: int,
    registry: AgentRegistry,
    actor: str,
    summary: HistorySummary,
    progress: Progress | None,
    audit_labels: bool,
) -> None:
    """Retrain on everything (history included) and audit the history's labels.

    The retrain runs on a sibling registry (as a worker would), so live requests deciding this
    process do not wait for it; every registry picks the new version up on next use.
    """
    if progress is not None:
        progress("train", summary.rows)
    started = time.perf_counter()
    report = retrain(factory, process_id=process_id, registry=registry.sibling(), actor=actor)
    registry.invalidate(process_id)
    summary.seconds["retrain"] = round(time.perf_counter() - started, 2)
    if report is not None:
        summary.model_version = report.version
        summary.threshold = report.threshold
        summary.expected_automation = report.expected_automation
    if not audit_labels:
        return
    if progress is not None:
        progress("audit", summary.rows)
    started = time.perf_counter()
    result = audit.audit_labels(factory, process_id=process_id, actor=actor)
    summary.seconds["audit"] = round(time.perf_counter() - started, 2)
    summary.suspicious = result.flagged
    summary.estimated_noise_rate = result.noise_rate


def history_state(session: Session, process: Process) -> HistoryState:
    """The process's history as it stands: counts, labels, the audit and the last imports."""
    counts = _history_counts(session, process.id)
    flags = dict(
        session.execute(
            select(LabelFlag.status, func.count())
            .where(LabelFlag.process_id == process.id)
            .group_by(LabelFlag.status)
        ).all()
    )
    imports = list(
        session.scalars(
            select(HistoryImport)
            .where(HistoryImport.process_id == process.id)
            .order_by(HistoryImport.id.desc())
            .limit(20)
        )
    )
    noise = next(
        (
            i.summary.get("estimated_noise_rate")
            for i in imports
            if i.summary.get("suspicious") is not None
        ),
        None,
    )
    return HistoryState(
        process_id=process.id,
        items=sum(counts.values()),
        labels=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        open_flags=int(flags.get(FlagStatus.OPEN.value, 0)),
        corrected=int(flags.get(FlagStatus.CORRECTED.value, 0)),
        estimated_noise_rate=noise,
        imports=[HistoryImportPublic.model_validate(i) for i in imports],
    )


def processes_with_history(session: Session, process_ids: Iterable[int]) -> set[int]:
    """Those of the processes that have imported history items (one query)."""
    ids = list(process_ids)
    if not ids:
        return set()
    query = (
        select(Item.process_id)
        .where(Item.process_id.in_(ids), Item.origin == ItemOrigin.HISTORY.value)
        .distinct()
    )
    return set(session.scalars(query))


def history_state_for(session: Session, *, principal: Principal, process_id: int) -> HistoryState:
    """`history_state` for a caller who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return history_state(session, process)
