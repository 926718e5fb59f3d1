"""Which department an audit event is about, fixed when the event is written.

    object type            department found through
    departments            the department itself
    processes              the process
    items, reviews         the item's process
    model_versions         the version's process
    webhooks               the webhook's process
    role_grants,           the `department_id` in the event's own snapshot (the row may be
    inventory_candidates,  deleted later; workspace-wide grants have none)
    knowledge_documents,
    drafts

Events about users and API tokens belong to no department (None). The department is stored on
the event (`AuditEvent.department_id`, indexed with `seq`), so a department's page of the log
is one index range scan, however much work the department holds. The event's hash covers it, so
moving an event out of a department's view breaks the chain (events written before that verify
by their older hash; `VerifyResult.unscoped` counts them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from deshi.db.tables import Item, ModelVersion, Process, Review, Webhook

__all__ = ["SNAPSHOT_SCOPED", "department_of"]

# Deleted rows leave their department only in the snapshot the event recorded.
SNAPSHOT_SCOPED = ("role_grants", "inventory_candidates", "knowledge_documents", "drafts")


def department_of(
    session: Session, object_type: str, object_id: str, *, before: Any, after: Any
) -> int | None:
    """The department of the object an event is about (None: a workspace-level object)."""
    if object_type in SNAPSHOT_SCOPED:
        found = _snapshot_department(after)
        return found if found is not None else _snapshot_department(before)
    try:
        key = int(object_id)
    except ValueError:
        return None
    if object_type == "departments":
        return key
    process_of = _PROCESS_OF.get(object_type)
    if process_of is None:
        return None
    process_id = process_of(session, key)
    process = session.get(Process, process_id) if process_id is not None else None
    return process.department_id if process is not None else None


def _snapshot_department(snapshot: Any) -> int | None:
    if isinstance(snapshot, dict) and isinstance(snapshot.get("department_id"), int):
        return int(snapshot["department_id"])
    return None


def _item_process(session: Session, item_id: int | None) -> int | None:
    item = session.get(Item, item_id) if item_id is not None else None
    return item.process_id if item is not None else None


def _review_process(session: Session, review_id: int) -> int | None:
    review = session.get(Review, review_id)
    return _item_process(session, review.item_id) if review is not None else None


def _version_process(session: Session, version_id: int) -> int | None:
    version = session.get(ModelVersion, version_id)
    return version.process_id if version is not None else None


def _webhook_process(session: Session, webhook_id: int) -> int | None:
    webhook = session.get(Webhook, webhook_id)
    return webhook.process_id if webhook is not None else None


_PROCESS_OF: dict[str, Callable[[Session, int], int | None]] = {
    "processes": lambda _session, key: key,
    "items": _item_process,
    "reviews": _review_process,
    "model_versions": _version_process,
    "webhooks": _webhook_process,
}
