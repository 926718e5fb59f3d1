"""SQL for the process inventory only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import InventoryCandidate

__all__ = ["currencies_in", "get_by_name", "get_candidate", "list_candidates"]


def get_candidate(session: Session, candidate_id: int) -> InventoryCandidate | None:
    """The candidate with this id, if any."""
    return session.get(InventoryCandidate, candidate_id)


def get_by_name(session: Session, *, department_id: int, name: str) -> InventoryCandidate | None:
    """The department's candidate with exactly this name, if any."""
    query = select(InventoryCandidate).where(
        InventoryCandidate.department_id == department_id, InventoryCandidate.name == name
    )
    return session.scalars(query).one_or_none()


def list_candidates(session: Session, *, department_id: int) -> list[InventoryCandidate]:
    """Every candidate of a department, oldest first."""
    query = (
        select(InventoryCandidate)
        .where(InventoryCandidate.department_id == department_id)
        .order_by(InventoryCandidate.id)
    )
    return list(session.scalars(query))


def currencies_in(session: Session, *, department_id: int) -> set[str]:
    """The currencies the department's candidates are costed in."""
    query = (
        select(InventoryCandidate.currency)
        .where(InventoryCandidate.department_id == department_id)
        .distinct()
    )
    return set(session.scalars(query))
