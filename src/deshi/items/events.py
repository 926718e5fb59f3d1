"""Webhook events of items: `item.decided` after ingest, `item.completed` when it is done.

Events are queued in the caller's transaction, so a rolled-back ingest or review sends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from deshi.db.tables import Item, Process
from deshi.domain import ItemStatus
from deshi.engine import Decision
from deshi.webhooks import ITEM_COMPLETED, ITEM_DECIDED, enqueue_events

__all__ = ["event_payload", "publish_completed", "publish_decided"]


def event_payload(
    item: Item, *, label: str | None, route: str | None, model_version: int | None
) -> dict[str, Any]:
    """The `data` of an item event: the item's ids, status and the decision that matters."""
    return {
        "item_id": item.id,
        "external_id": item.external_id,
        "process_id": item.process_id,
        "status": item.status.value,
        "label": label,
        "route": route,
        "model_version": model_version,
    }


def publish_decided(
    session: Session, *, process: Process, items: Sequence[Item], decisions: Sequence[Decision]
) -> None:
    """One `item.decided` per item, and `item.completed` for those the agent completed."""
    events: list[tuple[str, Mapping[str, Any]]] = []
    for item, decision in zip(items, decisions, strict=True):
        payload = event_payload(
            item,
            label=decision.label,
            route=decision.route.value,
            model_version=decision.model_version,
        )
        events.append((ITEM_DECIDED, payload))
        if item.status is ItemStatus.AUTO_COMPLETED:
            events.append((ITEM_COMPLETED, payload))
    enqueue_events(session, process=process, events=events)


def publish_completed(
    session: Session,
    *,
    process: Process,
    item: Item,
    label: str,
    route: str | None,
    model_version: int | None,
    not_before: datetime | None = None,
) -> None:
    """`item.completed` for an item a reviewer completed with `label`, first sent at
    `not_before` (default now)."""
    payload = event_payload(item, label=label, route=route, model_version=model_version)
    enqueue_events(
        session, process=process, events=[(ITEM_COMPLETED, payload)], not_before=not_before
    )
