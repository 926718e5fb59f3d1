"""Inventory use cases: add, rank (with a 90-day plan each) and delete candidate processes.

Functions taking a `principal` check permissions themselves: owners and admins of a department
write its inventory, every role in it reads, other departments do not exist (NotFound).
The `actor` variants are for trusted callers (the CLI, run by whoever holds the database).
Every change records one audit event in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from deshi.audit import record_event, snapshot
from deshi.db.tables import Department, InventoryCandidate
from deshi.errors import Conflict, NotFound, ValidationFailed
from deshi.inventory import repo
from deshi.inventory.models import CandidateCreate, CandidatePublic, RankedCandidatePublic
from deshi.inventory.ranking import CandidateProcess, rank_processes
from deshi.permissions import Action, Principal, require

__all__ = [
    "add_candidate",
    "add_candidate_for",
    "delete_candidate_for",
    "rank_candidates",
    "ranked_inventory",
    "ranked_inventory_for",
]


def _require_department(principal: Principal, action: Action, department_id: int) -> None:
    try:
        require(principal, action, department_id)
    except NotFound:
        raise NotFound(f"department {department_id} not found") from None


def add_candidate(
    session: Session, *, actor: str, department_id: int, data: CandidateCreate
) -> InventoryCandidate:
    """Add a candidate to a department's inventory; names are unique in a department and one
    department's candidates share a currency, so their savings compare like with like."""
    if session.get(Department, department_id) is None:
        raise NotFound(f"department {department_id} not found")
    name = data.name.strip()
    if not name:
        raise ValidationFailed("a candidate needs a name", field="name")
    if repo.get_by_name(session, department_id=department_id, name=name) is not None:
        raise Conflict(f"department {department_id} already lists a candidate named {name!r}")
    others = repo.currencies_in(session, department_id=department_id) - {data.currency}
    if others:
        raise ValidationFailed(
            f"this inventory is costed in {', '.join(sorted(others))}; use the same currency",
            field="currency",
        )
    candidate = InventoryCandidate(
        department_id=department_id,
        **data.model_dump(exclude={"name"}),
        name=name,
        created_by=actor,
    )
    session.add(candidate)
    session.flush()
    after = snapshot(candidate)
    record_event(session, actor=actor, action="inventory.create", obj=candidate, after=after)
    return candidate


def add_candidate_for(
    session: Session, *, principal: Principal, department_id: int, data: CandidateCreate
) -> InventoryCandidate:
    """Add a candidate to a department the principal manages (owner or admin)."""
    _require_department(principal, Action.MANAGE_PROCESS, department_id)
    return add_candidate(session, actor=principal.actor, department_id=department_id, data=data)


def rank_candidates(candidates: list[InventoryCandidate]) -> list[RankedCandidatePublic]:
    """Rank stored candidates with the pure ranking of deshi.inventory.ranking."""
    by_name = {c.name: CandidatePublic.model_validate(c) for c in candidates}
    pure = [
        CandidateProcess(
            name=c.name,
            monthly_volume=c.monthly_volume,
            minutes_per_item=c.minutes_per_item,
            exception_rate=c.exception_rate,
            measurability=c.measurability,
            hourly_rate=c.hourly_rate,
        )
        for c in candidates
    ]
    # names are unique per department (a table constraint), so they identify the rows
    return [RankedCandidatePublic.of(r, by_name[r.candidate.name]) for r in rank_processes(pure)]


def ranked_inventory(session: Session, *, department_id: int) -> list[RankedCandidatePublic]:
    """A department's candidates, best first, each with expected savings and a 90-day plan."""
    if session.get(Department, department_id) is None:
        raise NotFound(f"department {department_id} not found")
    return rank_candidates(repo.list_candidates(session, department_id=department_id))


def ranked_inventory_for(
    session: Session, *, principal: Principal, department_id: int
) -> list[RankedCandidatePublic]:
    """The ranked inventory of a department the principal can see."""
    _require_department(principal, Action.READ, department_id)
    return ranked_inventory(session, department_id=department_id)


def delete_candidate_for(session: Session, *, principal: Principal, candidate_id: int) -> None:
    """Remove a candidate from its department's inventory (owner or admin); audited."""
    candidate = repo.get_candidate(session, candidate_id)
    if candidate is None:
        raise NotFound(f"inventory candidate {candidate_id} not found")
    try:
        require(principal, Action.MANAGE_PROCESS, candidate.department_id)
    except NotFound:
        raise NotFound(f"inventory candidate {candidate_id} not found") from None
    before = snapshot(candidate)
    record_event(
        session, actor=principal.actor, action="inventory.delete", obj=candidate, before=before
    )
    session.delete(candidate)
    session.flush()
