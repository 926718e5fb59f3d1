"""Learning use cases: decide items, learn from every review, retrain, roll back.

The agent of each process lives in the `AgentRegistry` the caller passes (the app's, the
worker's); these functions sync it with the database, use it under the process's lock, and
store what it produced (new model versions, with one audit event each) in the caller's
transaction.
`retrain` is the exception: it takes a session factory, so it can train with no transaction open.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import record_event
from deshi.db import transaction
from deshi.db.tables import Decision as DecisionRow
from deshi.db.tables import Item, ModelVersion, Process, Review
from deshi.domain import ModelStatus
from deshi.engine import Decision, RetrainReport
from deshi.engine.drift import DriftReference
from deshi.engine.serialize import dump_model
from deshi.errors import Conflict, NotFound, ValidationFailed
from deshi.jobs.queue import enqueue
from deshi.learning import repo
from deshi.learning.registry import AgentEntry, AgentRegistry
from deshi.learning.repo import VersionState
from deshi.learning.rules import first_match, parse_rules

__all__ = [
    "DRIFT_REFERENCE",
    "RETRAIN_JOB",
    "decide_items",
    "decision_rows",
    "enqueue_retrain",
    "learn_from_review",
    "retrain",
    "rollback",
]

RETRAIN_JOB = "learning.retrain"
DRIFT_REFERENCE = "drift_reference"  # the metrics key of a version's DriftReference
SYSTEM_ACTOR = "system:learning"


def decide_items(
    session: Session,
    *,
    process: Process,
    items: Sequence[Item],
    registry: AgentRegistry,
) -> list[Decision]:
    """Decide stored items with the process's agent; one engine Decision per item, in order.

    Items matching an always-human rule are decided too, but routed to review.
    """
    if not items:
        return []
    if any(item.id is None for item in items):
        session.flush()  # case ids are item ids
    rules = parse_rules(process.always_human_rules)
    matched = [first_match(rules, item.text, item.fields or {}) for item in items]
    with registry.agent(session, process) as entry:
        _store_new_versions(session, process, entry, registry, actor=SYSTEM_ACTOR)
        return entry.agent.decide_many(
            [item.text for item in items], [str(item.id) for item in items], rules=matched
        )


def decision_rows(
    session: Session, *, process: Process, items: Sequence[Item], decisions: Sequence[Decision]
) -> list[DecisionRow]:
    """Unsaved `decisions` rows for engine decisions (the caller adds them to the session)."""
    ids = repo.version_ids(session, process.id)
    return [
        DecisionRow(
            item_id=item.id,
            model_version_id=ids.get(d.model_version),
            label=d.label,
            confidence=d.confidence,
            alternatives=[{"label": a.label, "probability": a.probability} for a in d.alternatives],
            evidence=[
                {"case_id": c.case_id, "text": c.text, "label": c.label, "similarity": c.similarity}
                for c in d.evidence
            ],
            route=d.route,
            threshold=d.threshold,
            reason_code=d.reason_code,
            reason_params=dict(d.reason_params),
            audit_rate=process.audit_rate,
        )
        for item, d in zip(items, decisions, strict=True)
    ]


def learn_from_review(
    session: Session,
    *,
    process: Process,
    item: Item,
    decision: DecisionRow,
    review: Review,
    registry: AgentRegistry,
) -> None:
    """Put the review's final label into the agent's case memory now; queue a retrain when due.

    A review without a final label (an escalation) teaches nothing yet.
    """
    if review.final_label is None:
        return
    with registry.agent(session, process) as entry:
        version = 0
        if decision.model_version_id is not None:
            stored = session.get(ModelVersion, decision.model_version_id)
            version = stored.version if stored is not None else 0
        observation = repo.observation_of(
            item,
            (decision, version),
            label=review.final_label,
            default_audit_rate=process.audit_rate,
        )
        registry.mark_dirty(session, process.id)
        entry.record(observation, item.id)
        _store_new_versions(session, process, entry, registry, actor=SYSTEM_ACTOR)
        due = entry.agent.due_for_retrain
    if due:
        enqueue_retrain(session, process_id=process.id)


def enqueue_retrain(session: Session, *, process_id: int, relearn: bool = False) -> None:
    """Queue a retrain of the process unless one is already queued. A `relearn` retrain runs
    even when nothing new was reviewed: a label was withdrawn (an undone answer) that the
    newest version may have learned, so its count of labels says nothing new."""
    payload: dict[str, Any] = {"process_id": process_id}
    if relearn:
        payload["relearn"] = True
    key = f"relearn:{process_id}" if relearn else f"retrain:{process_id}"
    enqueue(session, kind=RETRAIN_JOB, payload=payload, dedupe_key=key)


def retrain(
    factory: sessionmaker[Session],
    *,
    process_id: int,
    registry: AgentRegistry,
    actor: str = SYSTEM_ACTOR,
    routine: bool = False,
    finishing: Callable[[], AbstractContextManager[Session]] | None = None,
    relearn: bool = False,
) -> RetrainReport | None:
    """Train a challenger on everything reviewed; the engine decides whether it is promoted.

    Training takes seconds, so no transaction is open meanwhile: the agent is synced in a short
    read transaction, trained under the process's lock only, and the new version (model file
    artifact, metrics, threshold, trained_on, one audit event) is stored in `finishing()` (by
    default a new transaction; a job passes its own, which also marks it done). Reviews that
    arrive meanwhile reach the case memory and the next retrain. Conflict when another worker
    stored a version or the policy changed meanwhile (retry: the agent is rebuilt).

    A `routine` retrain (the queued job) returns None without training when the process is
    gone or archived, or nothing was reviewed since the newest version (unless `relearn`: a
    withdrawn label must leave the model too).
    """
    with registry.holding(process_id):
        with transaction(factory, lock_early=False) as session:
            process = _process_to_retrain(session, process_id, routine=routine)
            if process is None:
                return None
            with registry.agent(session, process) as entry:
                labelled = sum(1 for o in entry.agent.observations if o.label is not None)
                latest = entry.agent.versions[-1].trained_on if entry.agent.versions else 0
        if labelled == 0 and not routine:
            raise ValidationFailed(f"process {process_id} has no reviewed items to learn from")
        if labelled == 0 or (routine and labelled <= latest and not relearn):
            return None
        try:
            report = entry.agent.retrain()
            with (finishing or partial(transaction, factory))() as session:
                _store_retrained(session, process_id, entry, registry, actor, report)
        except BaseException:
            registry.invalidate(process_id)  # the agent holds a version that was not stored
            raise
    return report


def _process_to_retrain(session: Session, process_id: int, *, routine: bool) -> Process | None:
    process = session.get(Process, process_id)
    if process is None and not routine:
        raise NotFound(f"process {process_id} not found")
    if process is None or (routine and process.archived_at is not None):
        return None
    return process


def _store_retrained(
    session: Session,
    process_id: int,
    trained: AgentEntry,
    registry: AgentRegistry,
    actor: str,
    report: RetrainReport,
) -> None:
    process = session.get_one(Process, process_id)
    registry.mark_dirty(session, process_id)
    with registry.agent(session, process) as entry:  # takes in reviews made while training
        if entry is not trained:  # rebuilt: a version was stored elsewhere, or the policy moved
            raise Conflict(f"process {process_id} changed while version {report.version} trained")
        if not _store_new_versions(session, process, entry, registry, actor=actor, report=report):
            raise Conflict(f"process {process_id}: version {report.version} was stored elsewhere")


def rollback(session: Session, *, process: Process, version: int, actor: str) -> ModelVersion:
    """Make a stored version the champion again; every registry picks it up on next use."""
    row = session.scalars(
        select(ModelVersion).where(
            ModelVersion.process_id == process.id, ModelVersion.version == version
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"process {process.id} has no model version {version}")
    current = repo.version_state(session, process.id).champion
    if current == version:
        raise Conflict(f"version {version} is already the champion of process {process.id}")
    repo.make_champion(session, process.id, version)
    session.refresh(row)
    record_event(
        session,
        actor=actor,
        action="model.rollback",
        obj=row,
        before={"champion_version": current},
        after={"champion_version": version},
    )
    return row


def _store_new_versions(
    session: Session,
    process: Process,
    entry: AgentEntry,
    registry: AgentRegistry,
    *,
    actor: str,
    report: RetrainReport | None = None,
) -> bool:
    """Store versions the agent trained here (a retrain, or the bootstrap on the first label).
    False when another worker had stored one of them first: the agent is then dropped."""
    agent = entry.agent
    champion = agent.champion.version if agent.champion is not None else None
    for model in entry.unstored_versions():
        promoted = model.version == champion
        status = ModelStatus.CHAMPION if promoted else ModelStatus.CHALLENGER
        metrics = _json_safe({**model.metrics, **_report_metrics(report, model.version)})
        reference = DriftReference.of_model(model)  # what deshi.items.drift compares live to
        if reference is not None:
            metrics[DRIFT_REFERENCE] = reference.to_dict()
        row = repo.insert_version(
            session,
            process_id=process.id,
            version=model.version,
            status=status,
            artifact=dump_model(model),
            metrics=metrics,
            threshold=model.threshold,
            trained_on=model.trained_on,
        )
        if row is None:
            registry.invalidate(process.id)
            return False
        entry.stored_versions.add(model.version)
        if promoted:
            repo.make_champion(session, process.id, model.version)
        else:
            repo.retire_older_challengers(session, process.id, model.version)
        after = {
            "version": model.version,
            "status": status.value,
            "champion_version": champion,
            "threshold": _finite(model.threshold),
            "trained_on": model.trained_on,
        }
        record_event(session, actor=actor, action="model.retrain", obj=row, after=after)
    latest = max(entry.stored_versions, default=None)
    entry.state = VersionState(latest=latest, champion=champion)
    return True


def _report_metrics(report: RetrainReport | None, version: int) -> dict[str, Any]:
    if report is None or report.version != version:
        return {}
    return {
        "promoted": report.promoted,
        "holdout": report.holdout,
        "challenger_correct": report.challenger_correct,
        "champion_correct": report.champion_correct,
        "contested": report.contested,
        "expected_automation": report.expected_automation,
        "seconds": report.seconds,
    }


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _json_safe(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics as JSON: numpy scalars become Python numbers, NaN and infinities None."""
    safe: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or value is None or isinstance(value, str):
            safe[key] = value
        elif isinstance(value, (int, float)) or hasattr(value, "item"):
            number = value.item() if hasattr(value, "item") else value
            safe[key] = number if isinstance(number, int) else _finite(float(number))
        else:
            safe[key] = str(value)
    return safe
