"""Reading the audit log, scoped to the departments whose log the reader may read, filtered.

A workspace admin reads every event. Anyone else reads the events about objects of the
departments where a role of theirs allows `read_audit` (owner, auditor, admin there); which
department an event is about is stored with it (see `deshi.audit.departments`). Events about
users and API tokens belong to no department: only workspace admins read them.
The chain itself is one for the whole workspace, so `verify_chain` still checks every event.

Pages are keyset pages on `seq` (`before` / `after`), newest first: a page costs the same at
event 300,000 as at event 50, and nothing counts the log. The filters are plain conditions; the
department scope uses the (department_id, seq) index, the others are checked while walking seq
backwards from the page's start, so a rare filter value reads further (see docs/service.md).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, cast, false, func, or_, select
from sqlalchemy.orm import Session

from deshi.audit.query import EventFilter
from deshi.db.tables import AuditEvent, User
from deshi.errors import PermissionDenied
from deshi.permissions import Action, Principal, can

__all__ = [
    "EventPage",
    "audit_departments",
    "event_conditions",
    "iter_events",
    "list_events",
    "page_events",
]

_MAX_NAMED_ACTORS = 500  # people whose name matches an actor filter or a search
_BATCH = 500


def audit_departments(principal: Principal) -> frozenset[int] | None:
    """The departments whose events the principal may read; None: every event (workspace
    admin). PermissionDenied when there are none."""
    if can(principal, Action.READ_AUDIT, None):
        return None
    departments = frozenset(
        g.department_id
        for g in principal.grants
        if g.department_id is not None and can(principal, Action.READ_AUDIT, g.department_id)
    )
    if not departments:
        raise PermissionDenied("reading the audit log needs the auditor, owner or admin role")
    return departments


def list_events(
    session: Session,
    *,
    departments: Collection[int] | None,
    before: int | None,
    limit: int,
    after: int | None = None,
    filters: EventFilter | None = None,
) -> list[AuditEvent]:
    """Up to `limit` events about objects of `departments` (every event when None) that match
    `filters`, newest first: the newest older than seq `before`, or, with `after`, the oldest
    newer than seq `after` (the page before), still listed newest first."""
    conditions = event_conditions(session, departments=departments, filters=filters)
    if before is not None:
        conditions.append(AuditEvent.seq < before)
    if after is not None:
        conditions.append(AuditEvent.seq > after)
    order = AuditEvent.seq.asc() if after is not None and before is None else AuditEvent.seq.desc()
    query = select(AuditEvent).where(*conditions).order_by(order).limit(limit)
    events = list(session.scalars(query))
    return sorted(events, key=lambda e: e.seq, reverse=True)


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of events, newest first, and the seqs that ask for the pages beside it."""

    events: list[AuditEvent]
    older: int | None  # pass as `before` for the next, older page (None: this is the last)
    newer: int | None  # pass as `after` for the previous, newer page (None: this is the first)


def page_events(
    session: Session,
    *,
    departments: Collection[int] | None,
    filters: EventFilter | None,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> EventPage:
    """One keyset page of the matching events (one row more is read, to know if more follow)."""
    rows = list_events(
        session, departments=departments, before=before, after=after, limit=limit + 1,
        filters=filters,
    )  # fmt: skip
    more = len(rows) > limit
    if after is not None and before is None:  # paging back towards the newest
        events = rows[1:] if more else rows
        return EventPage(
            events, older=events[-1].seq if events else None,
            newer=events[0].seq if more else None,
        )  # fmt: skip
    events = rows[:limit]
    return EventPage(
        events,
        older=events[-1].seq if more else None,
        newer=events[0].seq if events and before is not None else None,
    )


def iter_events(
    session: Session,
    *,
    departments: Collection[int] | None,
    filters: EventFilter | None,
    up_to: int,
    from_seq: int = 1,
) -> Iterator[AuditEvent]:
    """The matching events from seq `from_seq` up to `up_to`, oldest first (chain order), read
    in batches."""
    conditions = event_conditions(session, departments=departments, filters=filters)
    query = (
        select(AuditEvent)
        .where(AuditEvent.seq >= from_seq, AuditEvent.seq <= up_to, *conditions)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=_BATCH)
    )
    yield from session.scalars(query)


def event_conditions(
    session: Session, *, departments: Collection[int] | None, filters: EventFilter | None
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a reader's scope and the filters."""
    conditions = [] if departments is None else [_about(departments)]
    if filters is None:
        return conditions
    if filters.actor is not None:
        conditions.append(_by_actor(session, filters.actor))
    if filters.action is not None:
        action = filters.action
        conditions.append(
            AuditEvent.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEvent.action == action
        )
    if filters.object_type is not None:
        conditions.append(AuditEvent.object_type == filters.object_type)
    if filters.object_id is not None:
        conditions.append(AuditEvent.object_id == filters.object_id)
    if filters.since is not None:
        conditions.append(AuditEvent.at >= filters.since)
    if filters.until is not None:
        conditions.append(AuditEvent.at < filters.until)
    if filters.q is not None:
        conditions.append(_search(session, filters.q))
    return conditions


def _about(departments: Collection[int]) -> ColumnElement[bool]:
    """True for events about an object of one of `departments`."""
    if not departments:
        return false()
    return AuditEvent.department_id.in_(sorted(departments))


def _named_actors(session: Session, text: str) -> list[str]:
    """The actors (`user:N`) of the people whose display name or email contains `text`."""
    needle = text.lower()
    ids = session.scalars(
        select(User.id)
        .where(
            or_(
                func.lower(User.display_name).contains(needle, autoescape=True),
                func.lower(User.email).contains(needle, autoescape=True),
            )
        )
        .order_by(User.id)
        .limit(_MAX_NAMED_ACTORS)
    )
    return [f"user:{user_id}" for user_id in ids]


def _by_actor(session: Session, actor: str) -> ColumnElement[bool]:
    """The actor as stored, or a person found by name or email."""
    named = _named_actors(session, actor)
    exact = AuditEvent.actor == actor
    return or_(exact, AuditEvent.actor.in_(named)) if named else exact


def _search(session: Session, text: str) -> ColumnElement[bool]:
    """Free text in the actor, action, object or what changed, ignoring case.

    JSON columns are stored with non-ASCII characters escaped (`\\u8acb`), so a Japanese
    search also looks for its escaped form."""
    needles = {text.lower(), _json_escaped(text).lower()}
    columns = (
        func.lower(AuditEvent.actor),
        func.lower(AuditEvent.action),
        func.lower(AuditEvent.object_type),
        func.lower(AuditEvent.object_id),
        func.lower(cast(AuditEvent.before, String)),
        func.lower(cast(AuditEvent.after, String)),
    )
    found = [column.contains(needle, autoescape=True) for column in columns for needle in needles]
    named = _named_actors(session, text)
    if named:
        found.append(AuditEvent.actor.in_(named))
    return or_(*found)


def _json_escaped(text: str) -> str:
    """`text` as the JSON columns store it inside a string: non-ASCII as \\uXXXX escapes."""
    return json.dumps(text)[1:-1]
