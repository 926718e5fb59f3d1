"""SQL for items only. Callers (the items service) record the audit event for the change."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy.exc
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from deshi.db.tables import Decision, Item, ModelVersion, Review, StoredDraft
from deshi.domain import ItemStatus, ReviewAction
from deshi.errors import Conflict

__all__ = [
    "DuplicateItem",
    "add_items",
    "by_external_ids",
    "decisions_of",
    "escalated_ids",
    "get_by_external_id",
    "insert_item",
    "model_version_ids",
    "model_version_numbers",
    "reviews_of",
    "set_statuses",
]


class DuplicateItem(Conflict):
    """A concurrent request stored an item with the same external id first."""


def get_by_external_id(session: Session, process_id: int, external_id: str) -> Item | None:
    """The process's item with this external id, if any."""
    query = select(Item).where(Item.process_id == process_id, Item.external_id == external_id)
    return session.scalars(query).one_or_none()


def insert_item(
    session: Session,
    *,
    process_id: int,
    text: str,
    external_id: str | None = None,
    fields: dict[str, Any] | None = None,
    entity_key: str | None = None,
    arm: str | None = None,
) -> Item:
    """Insert a received item; Conflict when the process already has this external id.

    A concurrent duplicate surfaces at flush as Conflict too; the transaction must then be
    rolled back (no savepoint: pysqlite's legacy transaction mode mishandles them).
    """
    if external_id is not None and get_by_external_id(session, process_id, external_id):
        raise Conflict(f"item {external_id!r} already exists in process {process_id}")
    item = Item(
        process_id=process_id,
        external_id=external_id,
        text=text,
        fields=fields or {},
        entity_key=entity_key,
        arm=arm,
    )
    session.add(item)
    try:
        session.flush()
    except sqlalchemy.exc.IntegrityError as exc:
        raise Conflict(f"item {external_id!r} conflicts with a stored item") from exc
    return item


def by_external_ids(
    session: Session, process_id: int, external_ids: Sequence[str]
) -> dict[str, Item]:
    """The process's stored items among these external ids, by external id."""
    if not external_ids:
        return {}
    query = select(Item).where(
        Item.process_id == process_id, Item.external_id.in_(sorted(set(external_ids)))
    )
    return {item.external_id: item for item in session.scalars(query) if item.external_id}


def add_items(session: Session, items: Sequence[Item]) -> None:
    """Insert new items; DuplicateItem when another transaction stored an external id first.

    The transaction is unusable afterwards (PostgreSQL aborts it): roll back and retry.
    """
    session.add_all(items)
    try:
        session.flush()
    except sqlalchemy.exc.IntegrityError as exc:
        raise DuplicateItem("an item with this external id was stored concurrently") from exc


def set_statuses(
    session: Session,
    items: Sequence[Item],
    statuses: Sequence[ItemStatus],
    *,
    completed_at: datetime,
) -> None:
    """Give stored items their first status: one UPDATE per status, not one per item (a batch
    has a thousand items and two or three statuses). Auto-completed items get `completed_at`."""
    groups: dict[ItemStatus, list[Item]] = defaultdict(list)
    for item, status in zip(items, statuses, strict=True):
        groups[status].append(item)
    for status, members in groups.items():
        done = completed_at if status is ItemStatus.AUTO_COMPLETED else None
        session.execute(
            update(Item)
            .where(Item.id.in_([item.id for item in members]))
            .values(status=status, completed_at=done)
            .execution_options(synchronize_session=False)
        )
        for item in members:  # what the UPDATE wrote, without marking the objects dirty
            set_committed_value(item, "status", status)
            set_committed_value(item, "completed_at", done)


def decisions_of(session: Session, item_ids: Sequence[int]) -> dict[int, Decision]:
    """The latest decision of each item."""
    if not item_ids:
        return {}
    query = select(Decision).where(Decision.item_id.in_(item_ids)).order_by(Decision.id)
    return {decision.item_id: decision for decision in session.scalars(query)}


def reviews_of(session: Session, item_ids: Sequence[int]) -> dict[int, list[Review]]:
    """Every review of each item, oldest first."""
    found: dict[int, list[Review]] = {item_id: [] for item_id in item_ids}
    if item_ids:
        query = select(Review).where(Review.item_id.in_(item_ids)).order_by(Review.id)
        for review in session.scalars(query):
            found[review.item_id].append(review)
    return found


def escalated_ids(session: Session, item_ids: Sequence[int]) -> set[int]:
    """The items among these that a reviewer escalated."""
    if not item_ids:
        return set()
    query = select(Review.item_id).where(
        Review.item_id.in_(item_ids), Review.action == ReviewAction.ESCALATE
    )
    return set(session.scalars(query))


def model_version_ids(session: Session, process_id: int, versions: set[int]) -> dict[int, int]:
    """Row ids of the process's model versions, by version number."""
    if not versions:
        return {}
    query = select(ModelVersion.version, ModelVersion.id).where(
        ModelVersion.process_id == process_id, ModelVersion.version.in_(sorted(versions))
    )
    return {row.version: row.id for row in session.execute(query)}


def model_version_numbers(session: Session, ids: set[int]) -> dict[int, int]:
    """Version numbers of model version rows, by row id."""
    if not ids:
        return {}
    query = select(ModelVersion.id, ModelVersion.version).where(ModelVersion.id.in_(sorted(ids)))
    return {row.id: row.version for row in session.execute(query)}


def sent_drafts_of(session: Session, item_ids: Sequence[int]) -> dict[int, StoredDraft]:
    """The reply sent without review for each of the items that has one."""
    if not item_ids:
        return {}
    rows = session.scalars(
        select(StoredDraft).where(
            StoredDraft.item_id.in_(item_ids), StoredDraft.sent_at.is_not(None)
        )
    )
    return {row.item_id: row for row in rows if row.item_id is not None}
