"""KPI reads kept in the database and recomputed only when the data under them changes.

Computing a process's KPIs reads every item and resamples (a seeded bootstrap), which grows with
the process: seconds at 100,000 items. Most views repeat the last one on unchanged data, so each
result is stored (table `kpi_snapshots`) with a **fingerprint** of the data it was computed on,
and a view whose fingerprint matches reads the stored result instead. The computation is
deterministic (the bootstrap is seeded), so a stored result equals a fresh one exactly; a test
holds it to that.

Checking the data takes two steps, so that a repeated view costs a few index lookups:

- the **watermark**, read on every view: the newest ids of the items, decisions, reviews and
  audit events of the whole workspace (every write the KPIs read adds one of them: an undone
  review is deleted, but its undo is an audit event), plus the process's own KPI settings
  (policy, costs, currency, mode, owner, stage and plan, memory epoch), model versions and
  newest item, and whatever else the caller's result depends on (`extra`: the drift check's
  state, the owner). Equal watermark: nothing the KPIs read has changed.
- the **fingerprint**, read only when the watermark moved (another process's work moves it
  too): the process's own items (count, newest id, completions and the latest), their decisions
  (count, newest id) and reviews (count, newest id, latest time). Equal fingerprint: the moved
  watermark is stored and the result served.

The rows live in the database, so every API and worker process shares them and none can serve
a result another one's write made stale. A row is a memo, never a source of truth: storing it is
best-effort, in its own short transaction (SQLite's write lock is not held while computing), and
a failure to store costs only a recomputation on the next view.

A long-running server may answer a stale view from the stored result while it recomputes it in
the background, when computing it took long (`deshi.kpis.refresh`): the result then says as of
when it is (`Served.as_of`). Without a refresher every view is exact. How long a read took counts
the loading of the records an earlier read of the same session spared it
(`deshi.kpis.context.spared_seconds`): a page's warnings reuse the records its KPI report loaded,
and timed alone they looked fast, so the next view after a change computed them while the
viewer waited (1.9 s at 100,000 items).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.engine import LOCK_EARLY
from deshi.db.tables import (
    AuditEvent,
    Decision,
    Item,
    KpiSnapshot,
    ModelVersion,
    Process,
    Review,
)
from deshi.kpis.context import RowsMark, spared_seconds
from deshi.kpis.refresh import Deferral

__all__ = ["Fingerprint", "Served", "cached_model", "fingerprint"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

KEEP_DAYS = 8  # rows of older clock buckets (last week's "now") are pruned when a row is stored
_LOCK_TIMEOUT = "2s"  # PostgreSQL: a memo write waits no longer for a row lock
_FIGURES = "deshi.kpis.cache.figures"  # session.info key of `_own_figures`'s kept figures


@dataclass(slots=True)
class Fingerprint:
    """What a KPI read of one process depends on: the cheap `watermark`, and the `digest` of
    the process's own rows, read on first use (see the module)."""

    session: Session
    process_id: int
    own: tuple[object, ...]  # the process's settings, models, newest item and `extra`
    watermark: str  # `own` and the workspace's high-water marks
    newest_item_at: datetime | None
    rows: RowsMark  # what the item records depend on: high-water marks, newest item, mode
    _digest: str | None = None

    def digest(self) -> str:
        """`own` and the process's own rows, summed up (read once)."""
        if self._digest is None:
            self._digest = _hash((self.own, _own_figures(self.session, self.process_id, self.rows)))
        return self._digest


def _own_figures(session: Session, process_id: int, rows: RowsMark) -> tuple[object, ...]:
    """The process's own item, decision and review figures, read once per session and data
    mark: a page's KPI report, warnings and drafting report each need them (three aggregates
    over every row of the process: tens of milliseconds each at 100,000 items)."""
    kept: dict[tuple[int, str], tuple[object, ...]] = session.info.setdefault(_FIGURES, {})
    key = (process_id, rows.mark)
    if key not in kept:
        kept.clear()  # the latest only: the marks moved, or another process is read
        kept[key] = (
            _item_figures(session, process_id),
            _decision_figures(session, process_id),
            _review_figures(session, process_id),
        )
    return kept[key]


def _hash(parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _process_settings(process: Process) -> tuple[object, ...]:
    return (
        process.id, process.error_budget, process.confidence, process.audit_rate,
        process.mode.value, process.hourly_rate, process.cost_per_escaped_error,
        process.running_cost_per_week, process.currency, process.owner_user_id,
        process.stage.value, process.planned_limited_production_on, process.planned_scale_on,
        process.created_at, process.memory_epoch,
    )  # fmt: skip


def _high_water_marks(session: Session) -> tuple[object, ...]:
    """The newest row of each table a KPI input is written to (primary-key lookups)."""
    query = select(
        select(func.max(Item.id)).scalar_subquery(),
        select(func.max(Decision.id)).scalar_subquery(),
        select(func.max(Review.id)).scalar_subquery(),
        select(func.max(AuditEvent.seq)).scalar_subquery(),
    )
    return tuple(session.execute(query).one())


def _newest_item_at(session: Session, process_id: int) -> datetime | None:
    query = select(func.max(Item.created_at)).where(Item.process_id == process_id)
    found = session.scalar(query)  # ix_items_process_id_created_at: one index lookup
    return found if isinstance(found, datetime) else None


def _item_figures(session: Session, process_id: int) -> tuple[object, ...]:
    query = select(
        func.count(Item.id),
        func.max(Item.id),
        func.count(Item.completed_at),
        func.max(Item.completed_at),
    ).where(Item.process_id == process_id)
    return tuple(session.execute(query).one())


def _decision_figures(session: Session, process_id: int) -> tuple[object, ...]:
    query = (
        select(func.count(Decision.id), func.max(Decision.id))
        .join(Item, Item.id == Decision.item_id)
        .where(Item.process_id == process_id)
    )
    return tuple(session.execute(query).one())


def _review_figures(session: Session, process_id: int) -> tuple[object, ...]:
    query = (
        select(func.count(Review.id), func.max(Review.id), func.max(Review.created_at))
        .join(Item, Item.id == Review.item_id)
        .where(Item.process_id == process_id)
    )
    return tuple(session.execute(query).one())


def _model_figures(session: Session, process_id: int) -> tuple[object, ...]:
    query = select(
        func.count(ModelVersion.id),
        func.max(ModelVersion.id),
        func.count(ModelVersion.promoted_at),
        func.max(ModelVersion.promoted_at),
    ).where(ModelVersion.process_id == process_id)
    return tuple(session.execute(query).one())


def fingerprint(session: Session, process: Process, *, extra: Iterable[object] = ()) -> Fingerprint:
    """The watermark of the data a KPI read of `process` depends on; its digest on demand."""
    newest = _newest_item_at(session, process.id)
    own = (_process_settings(process), _model_figures(session, process.id), newest, tuple(extra))
    marks = _high_water_marks(session)
    rows = RowsMark(_hash((marks, process.id, newest, process.mode.value)), newest)
    return Fingerprint(session, process.id, own, _hash((marks, own)), newest, rows)


@dataclass(frozen=True, slots=True)
class Served(Generic[M]):
    """A KPI read's result and, when it is of an earlier state of the data (being recomputed
    in the background), the last moment it was known to match the data; None when it is of the
    data as it is."""

    value: M
    as_of: datetime | None = None


def cached_model(
    session: Session,
    process_id: int,
    key: str,
    found: Fingerprint,
    compute: Callable[[], M],
    model: type[M],
    *,
    deferral: Deferral | None = None,
) -> Served[M]:
    """The stored result of `key` when it was computed on the data `found` describes;
    otherwise `compute()`, stored for the next view. With a `deferral` whose refresher defers
    reads as slow as this one last was, a stale stored result is served instead and recomputed
    in the background."""
    own = _SNAPSHOT.where(KpiSnapshot.process_id == process_id, KpiSnapshot.key == key)
    row = session.execute(own).first()
    stored = None if row is None else _parsed(row.payload, model, key, process_id)
    if row is not None and stored is not None:
        if row.watermark == found.watermark or row.fingerprint == found.digest():
            if row.watermark != found.watermark:  # other work moved it: remember the new one
                _store(session, process_id, key, found, row.payload, row.seconds)
            return Served(stored)
        if _deferred(deferral, row.seconds):
            return Served(stored, as_of=row.computed_at)
    elif row is None and deferral is not None and deferral.earlier is not None:
        earlier = _newest_earlier(session, process_id, deferral.earlier, model)
        if earlier is not None and _deferred(deferral, earlier[1]):
            return Served(earlier[0], as_of=earlier[2])
    found.digest()  # read before the rows the result comes from (see `_store`)
    spared, started = spared_seconds(session), time.perf_counter()
    value = compute()
    seconds = time.perf_counter() - started + spared_seconds(session) - spared
    payload = value.model_dump_json()
    if model.model_validate_json(payload) == value:  # e.g. a NaN would not read back equal
        _store(session, process_id, key, found, payload, seconds)
    return Served(value)


_SNAPSHOT = select(
    KpiSnapshot.watermark,
    KpiSnapshot.fingerprint,
    KpiSnapshot.payload,
    KpiSnapshot.computed_at,
    KpiSnapshot.seconds,
)


def _deferred(deferral: Deferral | None, seconds: float | None) -> bool:
    """True when the read is slow enough to recompute in the background, and is queued."""
    return (
        deferral is not None
        and deferral.refresher.defers(seconds)
        and deferral.refresher.submit(deferral.read)
    )


def _newest_earlier(
    session: Session, process_id: int, prefix: str, model: type[M]
) -> tuple[M, float | None, datetime] | None:
    """The newest stored result whose key starts with `prefix` (the same read in an earlier
    week or day), with how long it took and when it was computed; None when there is none."""
    query = _SNAPSHOT.add_columns(KpiSnapshot.key).where(
        KpiSnapshot.process_id == process_id, KpiSnapshot.key.startswith(prefix, autoescape=True)
    )
    row = session.execute(query.order_by(KpiSnapshot.computed_at.desc()).limit(1)).first()
    if row is None:
        return None
    stored = _parsed(row.payload, model, row.key, process_id)
    return None if stored is None else (stored, row.seconds, row.computed_at)


def _parsed(payload: str, model: type[M], key: str, process_id: int) -> M | None:
    try:
        return model.model_validate_json(payload)
    except ValidationError:  # stored by an older shape of the result: recompute
        logger.info("KPI snapshot %s of process %s no longer reads", key, process_id)
        return None


def _holds_write_lock(session: Session) -> bool:
    """True when the session's SQLite transaction took the write lock (BEGIN IMMEDIATE): a
    second connection could not write until it ends."""
    connection = session.connection()
    return connection.dialect.name == "sqlite" and bool(
        connection.get_execution_options().get(LOCK_EARLY, False)
    )


def _store(
    session: Session,
    process_id: int,
    key: str,
    found: Fingerprint,
    payload: str,
    seconds: float | None,
) -> None:
    """Replace the row of `key`, best-effort: a failure is logged and costs a recomputation.

    The watermark and digest were read before the result's rows: were the data to change in
    between (PostgreSQL reads each statement afresh), the result is newer than its marks, and
    the next view, seeing newer marks, only recomputes."""
    bind = session.get_bind()
    try:
        if isinstance(bind, Engine) and not _holds_write_lock(session):
            with transaction(sessionmaker(bind=bind)) as writer:
                if bind.dialect.name == "postgresql":  # wait briefly, never for long
                    writer.execute(text(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'"))
                _replace(writer, process_id, key, found, payload, seconds)
        else:  # this session holds the lock (or is a bare connection): write in it
            with session.begin_nested():
                _replace(session, process_id, key, found, payload, seconds)
    except (OperationalError, IntegrityError) as failed:  # locked, or a concurrent writer won
        logger.info("KPI snapshot %s of process %s not stored: %s", key, process_id, failed)


def _replace(
    session: Session,
    process_id: int,
    key: str,
    found: Fingerprint,
    payload: str,
    seconds: float | None,
) -> None:
    now = utcnow()
    session.execute(
        delete(KpiSnapshot).where(
            KpiSnapshot.process_id == process_id,
            (KpiSnapshot.key == key) | (KpiSnapshot.computed_at < now - timedelta(days=KEEP_DAYS)),
        )
    )
    session.add(
        KpiSnapshot(
            process_id=process_id,
            key=key,
            watermark=found.watermark,
            fingerprint=found.digest(),
            payload=payload,
            computed_at=now,
            seconds=seconds,
        )
    )
    session.flush()
