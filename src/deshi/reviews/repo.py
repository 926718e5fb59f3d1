"""SQL for the review queue: taking a lease on the next claimable item atomically.

Two reviewers must never hold the same item. PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`
picks a row no other transaction is claiming, then it is updated. SQLite: one conditional
`UPDATE … WHERE id = (next claimable) AND still claimable RETURNING id`; SQLite runs one
writer at a time, so the condition is re-checked under the write lock.

A caller who still holds an unexpired lease gets that item back (its lease renewed) before
any new one, so a reload or a detour to another page never strands the item for a lease.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from deshi.db.tables import Item, Review
from deshi.domain import ItemStatus, ReviewAction

__all__ = ["claim_next", "count_waiting", "renew_held"]


def _claimable(process_id: int, now: datetime, *, include_escalated: bool) -> ColumnElement[bool]:
    condition = and_(
        Item.process_id == process_id,
        or_(
            Item.status == ItemStatus.QUEUED,
            and_(Item.status == ItemStatus.CLAIMED, Item.lease_expires_at < now),
        ),
    )
    if include_escalated:
        return condition
    escalated = exists().where(Review.item_id == Item.id, Review.action == ReviewAction.ESCALATE)
    return and_(condition, ~escalated)


def renew_held(
    session: Session, *, process_id: int, user_id: int, now: datetime, expires_at: datetime
) -> Item | None:
    """Renew and return the oldest item the user still holds in the process; None if none."""
    held = and_(
        Item.process_id == process_id,
        Item.status == ItemStatus.CLAIMED,
        Item.lease_owner == user_id,
        Item.lease_expires_at > now,
    )
    item_id = session.scalar(select(Item.id).where(held).order_by(Item.id).limit(1))
    if item_id is None:
        return None
    session.execute(
        update(Item).where(Item.id == item_id, held).values(lease_expires_at=expires_at),
        execution_options={"synchronize_session": False},
    )
    return session.get(Item, item_id, populate_existing=True)


def next_claimable(
    session: Session, *, process_id: int, now: datetime, include_escalated: bool, limit: int
) -> list[int]:
    """The ids of the next `limit` items a claim would lease, in claim order (no lock taken)."""
    claimable = _claimable(process_id, now, include_escalated=include_escalated)
    query = select(Item.id).where(claimable).order_by(Item.id).limit(limit)
    return list(session.scalars(query))


def count_waiting(
    session: Session, *, process_id: int, now: datetime, include_escalated: bool
) -> int:
    """How many items of the process a reviewer could claim now (one COUNT query)."""
    claimable = _claimable(process_id, now, include_escalated=include_escalated)
    return session.scalar(select(func.count()).select_from(Item).where(claimable)) or 0


def claim_next(
    session: Session,
    *,
    process_id: int,
    user_id: int,
    now: datetime,
    expires_at: datetime,
    include_escalated: bool,
) -> Item | None:
    """Lease the oldest claimable item of the process to the user; None when there is none."""
    claimable = _claimable(process_id, now, include_escalated=include_escalated)
    lease = {"status": ItemStatus.CLAIMED, "lease_owner": user_id, "lease_expires_at": expires_at}
    if session.get_bind().dialect.name == "postgresql":
        query = (
            select(Item.id)
            .where(claimable)
            .order_by(Item.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        item_id = session.scalar(query)
        if item_id is None:
            return None
        session.execute(
            update(Item).where(Item.id == item_id).values(**lease),
            execution_options={"synchronize_session": False},
        )
    else:
        nxt = select(Item.id).where(claimable).order_by(Item.id).limit(1).scalar_subquery()
        statement = update(Item).where(Item.id == nxt, claimable).values(**lease).returning(Item.id)
        item_id = session.scalar(statement, execution_options={"synchronize_session": False})
        if item_id is None:
            return None
    return session.get(Item, item_id, populate_existing=True)
