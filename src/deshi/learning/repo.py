"""SQL for learning only: replaying a process's history and storing its model versions."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from deshi.db.base import utcnow
from deshi.db.blobs import fetch_binary
from deshi.db.tables import Decision, Item, ModelVersion, Process, Review
from deshi.domain import ItemOrigin, ItemStatus, ModelStatus
from deshi.engine import Observation, Route, RouteReason
from deshi.engine.serialize import without_memory_vectors
from deshi.learning.cursor import MAX_GAPS, IdCursor

__all__ = [
    "History",
    "VersionState",
    "auto_decisions_since",
    "insert_version",
    "labelled_reviews_since",
    "latest_decisions",
    "load_artifacts",
    "load_history",
    "make_champion",
    "observation_of",
    "resident_versions",
    "retire_older_challengers",
    "start_cursor",
    "version_ids",
    "version_state",
    "visible_ids",
]

DecisionRow = tuple[Decision, int | None]  # a stored decision and its model version number


@dataclass(frozen=True, slots=True)
class VersionState:
    """The newest and the champion model version numbers of a process (None: none yet)."""

    latest: int | None
    champion: int | None


@dataclass(slots=True)
class History:
    """A process's observations in decision order, and the cursors to continue from."""

    review_cursor: IdCursor
    decision_cursor: IdCursor
    observations: list[Observation] = field(default_factory=list)
    recorded_items: set[int] = field(default_factory=set)  # item ids already observed


def observation_of(
    item: Item, row: DecisionRow, *, label: str | None, default_audit_rate: float
) -> Observation:
    """The engine's view of a decided item; `label` is the human's final label, if any."""
    decision, version = row
    return _observation(
        item.id,
        item.text,
        item.entity_key,
        decision,
        version,
        label=label,
        default_audit_rate=default_audit_rate,
    )


class _DecisionColumns(Protocol):
    """What an observation reads of a decision: a `Decision` row or a row of its columns."""

    @property
    def route(self) -> str: ...
    @property
    def label(self) -> str | None: ...
    @property
    def confidence(self) -> float | None: ...
    @property
    def audit_rate(self) -> float | None: ...
    @property
    def reason_code(self) -> RouteReason | None: ...


def _observation(
    item_id: int,
    text: str,
    entity: str | None,
    decision: _DecisionColumns,
    version: int | None,
    *,
    label: str | None,
    default_audit_rate: float,
) -> Observation:
    """The observation's route is the live one: an item the agent would have auto-completed but
    a human labelled anyway (shadow or assist mode, a human-only arm) was reviewed for certain."""
    route = Route(decision.route)
    if route is Route.AUTO and label is not None:
        route = Route.REVIEW
    return Observation(
        case_id=str(item_id),
        text=text,
        route=route,
        label=label,
        audit_rate=decision.audit_rate if decision.audit_rate is not None else default_audit_rate,
        entity=entity,
        predicted_label=decision.label,
        confidence=decision.confidence,
        model_version=version or 0,
        suspended=decision.reason_code is RouteReason.SUSPENDED,
    )


def processes_with_models(session: Session) -> list[int]:
    """Ids of the processes that are not archived and have a stored model version."""
    query = (
        select(Process.id)
        .where(Process.archived_at.is_(None))
        .where(select(ModelVersion.id).where(ModelVersion.process_id == Process.id).exists())
        .order_by(Process.id)
    )
    return list(session.scalars(query))


def version_state(session: Session, process_id: int) -> VersionState:
    """One cheap query: the newest version and the champion's version."""
    champion = case((ModelVersion.status == ModelStatus.CHAMPION, ModelVersion.version))
    row = session.execute(
        select(func.max(ModelVersion.version), func.max(champion)).where(
            ModelVersion.process_id == process_id
        )
    ).one()
    return VersionState(latest=row[0], champion=row[1])


def resident_versions(
    session: Session,
    process_id: int,
    *,
    newest: int,
    champion: int | None,
    skip: Collection[int] = (),
) -> list[int]:
    """The process's champion and its `newest` newest other versions (as `Agent` holds them),
    oldest first, except those in `skip` (already held). Older versions stay in the database:
    loading every artifact would hold all the process's models in memory."""
    recent = (
        select(ModelVersion.version)
        .where(ModelVersion.process_id == process_id, ModelVersion.version != champion)
        .order_by(ModelVersion.version.desc())
        .limit(newest)
    )
    wanted = set(session.scalars(recent))
    if champion is not None:
        wanted.add(champion)
    return sorted(wanted.difference(skip))


def load_artifacts(
    session: Session, process_id: int, versions: Collection[int]
) -> dict[int, bytes]:
    """The stored files of the process's `versions` that exist, by version, oldest first. Read
    in binary format (`fetch_binary`): a restoring agent waits on them."""
    if not versions:
        return {}
    query = (
        select(ModelVersion.version, ModelVersion.artifact)
        .where(ModelVersion.process_id == process_id, ModelVersion.version.in_(list(versions)))
        .order_by(ModelVersion.version)
    )
    return {int(version): artifact for version, artifact in fetch_binary(session, query)}


def version_ids(session: Session, process_id: int) -> dict[int, int]:
    """Model version number → model_versions.id for the process."""
    query = select(ModelVersion.version, ModelVersion.id).where(
        ModelVersion.process_id == process_id
    )
    return {version: row_id for version, row_id in session.execute(query)}


def _final_labels(session: Session, process_id: int) -> dict[int, str]:
    """Each item's latest final label."""
    query = (
        select(Review.item_id, Review.final_label)
        .join(Item, Item.id == Review.item_id)
        .where(Item.process_id == process_id, Review.final_label.is_not(None))
        .order_by(Review.id)
    )
    return {item_id: str(label) for item_id, label in session.execute(query)}


def _decisions_query(process_id: int) -> Select[Decision, int | None, Item]:
    return (
        select(Decision, ModelVersion.version, Item)
        .join(Item, Item.id == Decision.item_id)
        .outerjoin(ModelVersion, ModelVersion.id == Decision.model_version_id)
        .where(Item.process_id == process_id)
        .order_by(Decision.id)
    )


def load_history(session: Session, process_id: int, *, default_audit_rate: float) -> History:
    """Observations in decision order: reviewed items with their final label, auto-completed
    items unlabelled; items still waiting for a human are left out until they are reviewed
    (so an item is observed once, when its outcome is known).

    Each cursor is placed before its rows are read, so a row committed in between is read
    again later (and skipped as already observed) rather than missed; reviews are read before
    decisions for the same reason.
    """
    review_cursor = start_cursor(session, Review.id)
    labels = _final_labels(session, process_id)
    decision_cursor = start_cursor(session, Decision.id)
    decided = session.execute(_latest_decisions_query(process_id)).all()
    history = History(review_cursor, decision_cursor)
    _take_imported(session, process_id, history, default_audit_rate=default_audit_rate)
    observations, recorded = history.observations, history.recorded_items
    for row in decided:  # columns: building ORM objects cost more than the rest of a restore
        item_id = row.item_id
        label = labels.get(item_id)
        if label is None and row.status is not ItemStatus.AUTO_COMPLETED:
            continue
        observations.append(
            _observation(
                item_id,
                row.text,
                row.entity_key,
                row,
                row.version,
                label=label,
                default_audit_rate=default_audit_rate,
            )
        )
        recorded.add(item_id)
    return history


def _latest_decisions_query(process_id: int) -> Select[*tuple[Any, ...]]:
    """Each of the process's decided items with its latest decision, in decision order: the
    columns an observation reads (`_observation`), without the decisions' evidence and
    alternatives."""
    latest = (
        select(func.max(Decision.id))
        .join(Item, Item.id == Decision.item_id)
        .where(Item.process_id == process_id)
        .group_by(Decision.item_id)
    )
    return (
        select(
            Decision.item_id,
            Item.text,
            Item.entity_key,
            Item.status,
            Decision.route,
            Decision.label,
            Decision.confidence,
            Decision.audit_rate,
            Decision.reason_code,
            ModelVersion.version,
        )
        .join(Item, Item.id == Decision.item_id)
        .outerjoin(ModelVersion, ModelVersion.id == Decision.model_version_id)
        .where(Decision.id.in_(latest.scalar_subquery()))
        .order_by(Decision.id)
    )


def _take_imported(
    session: Session, process_id: int, history: History, *, default_audit_rate: float
) -> None:
    """Imported history items come first, in import order: labelled by a human, never decided
    by the agent (no prediction, so they are memory and training data, not audit evidence).
    An import ends with a retrain, whose new version makes every registry reload to see them."""
    query = (
        select(Item.id, Item.text, Item.history_label, Item.entity_key)
        .where(
            Item.process_id == process_id,
            Item.origin == ItemOrigin.HISTORY.value,
            Item.history_label.is_not(None),
        )
        .order_by(Item.id)
    )
    for item_id, text, label, entity in session.execute(query):  # columns: no ORM objects
        history.observations.append(
            Observation(
                case_id=str(item_id),
                text=text,
                route=Route.REVIEW,
                label=label,
                audit_rate=default_audit_rate,
                entity=entity,
            )
        )
        history.recorded_items.add(item_id)


def start_cursor(session: Session, column: InstrumentedAttribute[int]) -> IdCursor:
    """A cursor at the table's newest id, with the recent ids not visible yet as its gaps."""
    cursor = IdCursor()
    cursor.saw(visible_ids(session, column, 0, []), time.monotonic())
    return cursor


def visible_ids(
    session: Session, column: InstrumentedAttribute[int], above: int, among: Sequence[int]
) -> list[int]:
    """Ids of every process's rows above `above` or in `among`, but only the newest MAX_GAPS
    of the table: what an `IdCursor` needs to find its gaps, so an agent that was idle while
    other processes wrote millions of rows does not read all their ids. One query: an agent
    syncs before every use, so the table's newest id is a subquery, not a round trip."""
    top = select(func.coalesce(func.max(column), 0)).correlate(None).scalar_subquery()
    newest = and_(column > above, column > top - MAX_GAPS)
    return list(
        session.scalars(select(column).where(or_(newest, column.in_(among)) if among else newest))
    )


def _wanted(column: InstrumentedAttribute[int], above: int, among: Sequence[int]) -> Any:
    return or_(column > above, column.in_(among)) if among else column > above


def labelled_reviews_since(
    session: Session, process_id: int, above: int, among: Sequence[int] = ()
) -> list[Review]:
    """The process's reviews with a final label and an id above `above` or in `among`,
    oldest first."""
    query = (
        select(Review)
        .join(Item, Item.id == Review.item_id)
        .where(
            Item.process_id == process_id,
            _wanted(Review.id, above, among),
            Review.final_label.is_not(None),
        )
        .order_by(Review.id)
    )
    return list(session.scalars(query))


def latest_decisions(session: Session, item_ids: Iterable[int]) -> dict[int, DecisionRow]:
    """Each item's latest decision with its model version number."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    query = (
        select(Decision, ModelVersion.version)
        .outerjoin(ModelVersion, ModelVersion.id == Decision.model_version_id)
        .where(Decision.item_id.in_(ids))
        .order_by(Decision.id)
    )
    return {d.item_id: (d, v) for d, v in session.execute(query)}


def auto_decisions_since(
    session: Session, process_id: int, above: int, among: Sequence[int] = ()
) -> list[tuple[Decision, int | None, Item]]:
    """Decisions of the process's auto-completed items with an id above `above` or in
    `among`, oldest first."""
    query = _decisions_query(process_id).where(
        _wanted(Decision.id, above, among), Item.status == ItemStatus.AUTO_COMPLETED
    )
    return list(session.execute(query))


def insert_version(
    session: Session,
    *,
    process_id: int,
    version: int,
    status: ModelStatus,
    artifact: bytes,
    metrics: dict[str, object],
    threshold: float | None,
    trained_on: int,
) -> ModelVersion | None:
    """Store a version; None when the process already has this version number (another
    worker stored it first), without failing the caller's transaction."""
    values = {
        "process_id": process_id,
        "version": version,
        "status": status,
        "artifact": artifact,
        "metrics": metrics,
        "threshold": threshold,
        "trained_on": trained_on,
        "created_at": utcnow(),
        "promoted_at": utcnow() if status is ModelStatus.CHAMPION else None,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ModelVersion)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["process_id", "version"])
        .returning(ModelVersion.id)
    )
    new_id = session.execute(statement).scalar_one_or_none()
    return None if new_id is None else session.get(ModelVersion, new_id)


def make_champion(session: Session, process_id: int, version: int) -> Sequence[int]:
    """Retire the current champion(s) and promote `version`; returns the retired versions."""
    retired = session.scalars(
        update(ModelVersion)
        .where(
            ModelVersion.process_id == process_id,
            ModelVersion.status == ModelStatus.CHAMPION,
            ModelVersion.version != version,
        )
        .values(status=ModelStatus.RETIRED)
        .returning(ModelVersion.version)
    ).all()
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.process_id == process_id, ModelVersion.version == version)
        .values(status=ModelStatus.CHAMPION, promoted_at=utcnow())
    )
    for old_champion in retired:
        _drop_memory_vectors(session, process_id, old_champion)
    return retired


def _drop_memory_vectors(session: Session, process_id: int, version: int) -> None:
    """A retired champion's file loses its case memory's rows (`without_memory_vectors`), so a
    process stores the rows of one version, the deciding one, however often it promotes."""
    where = (ModelVersion.process_id == process_id, ModelVersion.version == version)
    ((artifact,),) = fetch_binary(session, select(ModelVersion.artifact).where(*where))
    stripped = without_memory_vectors(artifact)
    if stripped is not None:
        session.execute(update(ModelVersion).where(*where).values(artifact=stripped))


def retire_older_challengers(session: Session, process_id: int, version: int) -> None:
    """Keep at most one challenger (the newest); older losing challengers are retired."""
    session.execute(
        update(ModelVersion)
        .where(
            ModelVersion.process_id == process_id,
            ModelVersion.status == ModelStatus.CHALLENGER,
            ModelVersion.version < version,
        )
        .values(status=ModelStatus.RETIRED)
    )
