"""SQL for items only. Callers (the items service) record the audit event for the change."""

from __future__ import annotations

from typing import Any

import sqlalchemy.exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.models import Item
from deshi.errors import Conflict

__all__ = ["get_by_external_id", "insert_item"]


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
