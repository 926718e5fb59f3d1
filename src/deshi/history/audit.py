"""The label audit: history rows whose label is likely wrong, most suspicious first.

The signals, their cut-offs and the noise estimate are the engine's (`deshi.engine.label_audit`,
which `deshi backtest --history` reports from as well); this module reads the history and stores
the flags.

Flags an owner already answered are kept; open ones are replaced by each new audit. Confirming
keeps the label, correcting replaces it (audited); the corrections reach the model with the next
retrain (`retrain_after_audit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import record_event
from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import Item, LabelFlag, Process
from deshi.domain import FlagStatus, ItemOrigin
from deshi.engine.label_audit import DUPLICATE_SIMILARITY, MARGIN_CUT, Suspect, find_suspects
from deshi.errors import Conflict, NotFound, ValidationFailed
from deshi.history.models import FlagResolve, LabelFlagPublic, RetrainPublic
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import retrain
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = [
    "DUPLICATE_SIMILARITY",
    "MARGIN_CUT",
    "AuditResult",
    "audit_labels",
    "list_flags",
    "list_flags_for",
    "resolve_flag",
    "resolve_flag_for",
    "retrain_after_audit",
    "retrain_after_audit_for",
]


@dataclass(frozen=True, slots=True)
class AuditResult:
    """How many rows were audited and flagged, and the estimated label-noise rate."""

    audited: int
    flagged: int
    noise_rate: float | None


def audit_labels(factory: sessionmaker[Session], *, process_id: int, actor: str) -> AuditResult:
    """Audit every history row of the process and store the flags (replacing open ones)."""
    with transaction(factory) as session:
        process = session.get_one(Process, process_id)
        featurizer_name = process.featurizer
        rows = session.execute(
            select(Item.id, Item.text, Item.history_label)
            .where(
                Item.process_id == process_id,
                Item.origin == ItemOrigin.HISTORY.value,
                Item.history_label.is_not(None),
            )
            .order_by(Item.id)
        ).all()
    ids = [row[0] for row in rows]
    labels = [str(row[2]) for row in rows]
    found = find_suspects([str(row[1]) for row in rows], labels, featurizer=featurizer_name)
    if not found.audited:
        return AuditResult(len(rows), 0, None)
    with transaction(factory) as session:
        flagged = _store_flags(session, process_id, ids, labels, found.suspects)
        record_event(
            session,
            actor=actor,
            action="history.audit",
            obj=session.get_one(Process, process_id),
            after={"audited": len(rows), "flagged": flagged},
        )
    return AuditResult(len(rows), flagged, found.noise_rate)


def _store_flags(
    session: Session,
    process_id: int,
    ids: list[int],
    labels: list[str],
    suspects: Sequence[Suspect],
) -> int:
    session.execute(
        delete(LabelFlag).where(
            LabelFlag.process_id == process_id, LabelFlag.status == FlagStatus.OPEN.value
        )
    )
    answered = set(
        session.scalars(select(LabelFlag.item_id).where(LabelFlag.process_id == process_id))
    )
    fresh = [s for s in suspects if ids[s.index] not in answered]
    session.add_all(
        LabelFlag(
            process_id=process_id,
            item_id=ids[s.index],
            label=str(labels[s.index]),
            suggested_label=s.suggested,
            score=s.score,
            reasons=list(s.reasons),
            status=FlagStatus.OPEN.value,
        )
        for s in fresh
    )
    return len(fresh)


def list_flags(
    session: Session,
    process_id: int,
    *,
    status: FlagStatus | None = FlagStatus.OPEN,
    limit: int = 100,
) -> list[LabelFlagPublic]:
    """The process's flags, most suspicious first (only `status` ones, or all)."""
    query = (
        select(LabelFlag, Item)
        .join(Item, Item.id == LabelFlag.item_id)
        .where(LabelFlag.process_id == process_id)
        .order_by(LabelFlag.score.desc(), LabelFlag.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(LabelFlag.status == status.value)
    return [_public(flag, item) for flag, item in session.execute(query)]


def list_flags_for(
    session: Session,
    *,
    principal: Principal,
    process_id: int,
    status: FlagStatus | None = FlagStatus.OPEN,
    limit: int = 100,
) -> list[LabelFlagPublic]:
    """`list_flags` for a caller who may manage the process."""
    get_process_for(session, principal, process_id, Action.MANAGE_PROCESS)
    return list_flags(session, process_id, status=status, limit=limit)


def _public(flag: LabelFlag, item: Item) -> LabelFlagPublic:
    return LabelFlagPublic(
        id=flag.id,
        item_id=item.id,
        external_id=item.external_id,
        text=item.text,
        label=flag.label,
        current_label=item.history_label,
        suggested_label=flag.suggested_label,
        score=round(flag.score, 4),
        reasons=[str(r) for r in flag.reasons],
        status=flag.status,
    )


def resolve_flag(
    session: Session, *, actor: str, process: Process, flag_id: int, answer: FlagResolve
) -> LabelFlagPublic:
    """Confirm a flagged label or replace it (audited on the item); the model learns the
    correction at the next retrain."""
    flag = session.get(LabelFlag, flag_id)
    if flag is None or flag.process_id != process.id:
        raise NotFound(f"process {process.id} has no label flag {flag_id}")
    if flag.status != FlagStatus.OPEN.value:
        raise Conflict(f"label flag {flag_id} was already answered ({flag.status})")
    item = session.get_one(Item, flag.item_id)
    before = {"label": item.history_label}
    if answer.action == "correct":
        label = (answer.label or "").strip()
        known = [str(x) for x in process.labels or ()]
        if label not in known:
            raise ValidationFailed(
                f"{label!r} is not a label of process {process.id}; its labels are: "
                + ", ".join(known[:30]),
                field="label",
            )
        item.history_label = label
        flag.status = FlagStatus.CORRECTED.value
    else:
        flag.status = FlagStatus.CONFIRMED.value
    flag.resolved_by, flag.resolved_at = actor, utcnow()
    record_event(
        session,
        actor=actor,
        action=f"history.label_{flag.status}",
        obj=item,
        before=before,
        after={"label": item.history_label, "flag_id": flag.id},
    )
    return _public(flag, item)


def resolve_flag_for(
    session: Session, *, principal: Principal, process_id: int, flag_id: int, answer: FlagResolve
) -> LabelFlagPublic:
    """`resolve_flag` for a caller who may manage the process."""
    process = get_process_for(session, principal, process_id, Action.MANAGE_PROCESS)
    return resolve_flag(
        session, actor=principal.actor, process=process, flag_id=flag_id, answer=answer
    )


def retrain_after_audit(
    factory: sessionmaker[Session],
    *,
    process_id: int,
    registry: AgentRegistry,
    actor: str,
) -> RetrainPublic:
    """Retrain on the corrected labels: the agent is rebuilt from the database first, so its
    case memory holds the corrections too."""
    registry.invalidate(process_id)
    report = retrain(factory, process_id=process_id, registry=registry.sibling(), actor=actor)
    registry.invalidate(process_id)
    if report is None:
        raise ValidationFailed(f"process {process_id} has nothing to retrain on")
    return RetrainPublic(
        version=report.version,
        promoted=report.promoted,
        threshold=report.threshold,
        expected_automation=report.expected_automation,
    )


def retrain_after_audit_for(
    factory: sessionmaker[Session],
    *,
    principal: Principal,
    process_id: int,
    registry: AgentRegistry,
) -> RetrainPublic:
    """`retrain_after_audit` for a caller who may manage the process's models."""
    with transaction(factory) as session:
        get_process_for(session, principal, process_id, Action.MANAGE_MODELS)
    return retrain_after_audit(
        factory, process_id=process_id, registry=registry, actor=principal.actor
    )
