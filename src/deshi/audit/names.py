"""Names for the people and objects a page of audit events is about, found in a few queries.

Events store ids (`user:3`, `items`/`812`); a reader wants "Aiko Tanaka" and "Card disputes
#812". `names_for` looks up every id of a page at once (one query per table, never one per
event), and `actor_name` / `object_name` give the language-neutral names the API, the CLI and
the export carry. Pages add translated words and links (`deshi.web.ui.audit`). A name is what
the object is called *now*; the event's own before → after keeps what it was then.

An id that names nothing any more (a deleted role grant, an inventory candidate) falls back to
the event's own snapshot, and then to the id as stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import Department, Item, ModelVersion, Process, Review, User, Webhook

__all__ = ["Names", "actor_name", "actor_user", "names_for", "object_name", "object_process"]


@dataclass(frozen=True, slots=True)
class Names:
    """What the ids of some events are called, and which process holds each work object."""

    users: Mapping[int, str] = field(default_factory=dict)
    departments: Mapping[int, str] = field(default_factory=dict)
    processes: Mapping[int, str] = field(default_factory=dict)
    item_processes: Mapping[int, int] = field(default_factory=dict)
    item_keys: Mapping[int, str] = field(default_factory=dict)  # item id → external id
    review_items: Mapping[int, int] = field(default_factory=dict)
    versions: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # → (process, number)
    webhook_processes: Mapping[int, int] = field(default_factory=dict)


class _Event(Protocol):
    """The fields of an event that naming reads (an AuditEvent row, or an exported event)."""

    @property
    def actor(self) -> str: ...
    @property
    def object_type(self) -> str: ...
    @property
    def object_id(self) -> str: ...
    @property
    def before(self) -> Any: ...
    @property
    def after(self) -> Any: ...


def actor_user(actor: str) -> int | None:
    """The user id of a `user:N` actor."""
    kind, _, rest = actor.partition(":")
    return int(rest) if kind == "user" and rest.isdigit() else None


def _object_key(event: _Event) -> int | None:
    return int(event.object_id) if event.object_id.isdigit() else None


def _snapshot(event: _Event) -> dict[str, Any]:
    """The event's after (or, for a deletion, before) snapshot, when it is an object."""
    for value in (event.after, event.before):
        if isinstance(value, dict):
            return value
    return {}


def _wanted(events: Iterable[_Event]) -> dict[str, set[int]]:
    """The ids to look up, per table."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for event in events:
        user = actor_user(event.actor)
        if user is not None:
            wanted["users"].add(user)
        key = _object_key(event)
        if key is not None:
            wanted[event.object_type].add(key)
        if event.object_type == "role_grants":
            snapshot = _snapshot(event)
            for name, table in (("user_id", "users"), ("department_id", "departments")):
                if isinstance(snapshot.get(name), int):
                    wanted[table].add(snapshot[name])
    return wanted


def names_for(session: Session, events: Iterable[_Event]) -> Names:
    """The names of every person and object `events` mention."""
    wanted = _wanted(events)
    reviews = _pairs(session, Review.id, Review.item_id, wanted["reviews"])
    items = wanted["items"] | set(reviews.values())
    item_rows = (
        session.execute(
            select(Item.id, Item.process_id, Item.external_id).where(Item.id.in_(sorted(items)))
        ).all()
        if items
        else []
    )
    versions = _versions(session, wanted["model_versions"])
    webhooks = _pairs(session, Webhook.id, Webhook.process_id, wanted["webhooks"])
    processes = (
        wanted["processes"]
        | {row.process_id for row in item_rows}
        | {process for process, _ in versions.values()}
        | set(webhooks.values())
    )
    return Names(
        users=_pairs(session, User.id, User.display_name, wanted["users"]),
        departments=_pairs(session, Department.id, Department.name, wanted["departments"]),
        processes=_pairs(session, Process.id, Process.name, processes),
        item_processes={row.id: row.process_id for row in item_rows},
        item_keys={row.id: row.external_id for row in item_rows if row.external_id},
        review_items=reviews,
        versions=versions,
        webhook_processes=webhooks,
    )


def _versions(session: Session, ids: set[int]) -> dict[int, tuple[int, int]]:
    """{model version id: (process id, version number)}."""
    if not ids:
        return {}
    query = select(ModelVersion.id, ModelVersion.process_id, ModelVersion.version)
    rows = session.execute(query.where(ModelVersion.id.in_(sorted(ids))))
    return {row.id: (row.process_id, row.version) for row in rows}


def _pairs(session: Session, key: Any, value: Any, ids: set[int]) -> dict[Any, Any]:
    """{key: value} for the rows whose key is in `ids` (no query when there are none)."""
    if not ids:
        return {}
    rows = session.execute(select(key, value).where(key.in_(sorted(ids))))
    return {row[0]: row[1] for row in rows}


def actor_name(actor: str, names: Names) -> str:
    """A person's display name for `user:N`; other actors (`cli:…`, `system:…`) as stored."""
    user = actor_user(actor)
    return names.users.get(user, actor) if user is not None else actor


def object_process(event: _Event, names: Names) -> int | None:
    """The process an event's object belongs to (items, reviews, versions, webhooks)."""
    key = _object_key(event)
    if key is None:
        return None
    match event.object_type:
        case "processes":
            return key
        case "items":
            return names.item_processes.get(key)
        case "reviews":
            item = names.review_items.get(key)
            return names.item_processes.get(item) if item is not None else None
        case "model_versions":
            version = names.versions.get(key)
            return version[0] if version is not None else None
        case "webhooks":
            return names.webhook_processes.get(key)
    return None


def object_name(event: _Event, names: Names) -> str:
    """What the object is called: a name, `process #id`, `process vN`, or the id as stored."""
    key = _object_key(event)
    snapshot = _snapshot(event)
    process = object_process(event, names)
    process_name = names.processes.get(process) if process is not None else None
    match event.object_type:
        case "users" if key is not None and key in names.users:
            return names.users[key]
        case "departments" if key is not None and key in names.departments:
            return names.departments[key]
        case "processes" if process_name is not None:
            return process_name
        case "items" if process_name is not None and key is not None:
            external = names.item_keys.get(key)
            return f"{process_name} #{key}" + (f" ({external})" if external else "")
        case "reviews" if process_name is not None and key is not None:
            return f"{process_name} #{names.review_items[key]}"
        case "model_versions" if process_name is not None and key is not None:
            return f"{process_name} v{names.versions[key][1]}"
        case "webhooks" if isinstance(snapshot.get("url"), str):
            return str(snapshot["url"])
        case "role_grants":
            return _grant_name(snapshot, names) or event.object_id
    if isinstance(snapshot.get("name"), str):  # api tokens, inventory candidates, …
        return str(snapshot["name"])
    return f"{event.object_type}:{event.object_id}"


def _grant_name(snapshot: Mapping[str, Any], names: Names) -> str | None:
    """`role · person · department` of a role grant's snapshot."""
    role = snapshot.get("role")
    if not isinstance(role, str):
        return None
    parts = [role]
    user = snapshot.get("user_id")
    if isinstance(user, int):
        parts.append(names.users.get(user, f"user:{user}"))
    department = snapshot.get("department_id")
    if isinstance(department, int):
        parts.append(names.departments.get(department, f"departments:{department}"))
    return " · ".join(parts)
