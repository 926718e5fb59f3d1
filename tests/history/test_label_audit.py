"""The label audit: labels flipped on purpose are found, most suspicious first; an owner's
correction replaces the label (audited) and reaches the model with the retrain."""

from __future__ import annotations

import pytest
from history_desk import Desk
from history_rows import banking
from sqlalchemy import select

from deshi.db import transaction
from deshi.db.tables import AuditEvent, Item, Process
from deshi.domain import FlagStatus
from deshi.errors import Conflict, ValidationFailed
from deshi.history.audit import audit_labels, list_flags, resolve_flag, retrain_after_audit
from deshi.history.models import FlagResolve, HistorySummary
from deshi.history.reader import HistoryRow
from deshi.history.service import history_state, import_history
from deshi.learning.repo import load_history


def _import_with_flips(desk: Desk, every: int = 50) -> tuple[HistorySummary, set[str]]:
    """Ten intents of BANKING77 with every `every`-th label moved to the next intent."""
    pairs = banking(labels=10)
    labels = sorted({label for _, label in pairs})
    rows, flipped = [], set()
    for i, (text, label) in enumerate(pairs):
        if i % every == 0:
            label = labels[(labels.index(label) + 1) % len(labels)]
            flipped.add(f"h{i}")
        rows.append(HistoryRow(row=i + 2, text=text, label=label, external_id=f"h{i}"))
    summary = import_history(
        desk.factory,
        actor="cli:test",
        process_id=desk.process_id,
        rows=rows,
        registry=desk.registry,
    )
    return summary, flipped


def test_flipped_labels_are_found_most_suspicious_first(desk: Desk) -> None:
    summary, flipped = _import_with_flips(desk)
    with transaction(desk.factory) as session:
        flags = list_flags(session, desk.process_id, limit=1000)
        state = history_state(session, session.get_one(Process, desk.process_id))
    found = {f.external_id for f in flags} & flipped
    assert len(found) >= 0.8 * len(flipped)
    top = flags[: len(flipped) // 2]
    assert sum(f.external_id in flipped for f in top) >= 0.8 * len(top)
    assert [f.score for f in flags] == sorted((f.score for f in flags), reverse=True)
    assert summary.suspicious == len(flags)
    assert summary.estimated_noise_rate is not None
    assert 0.01 <= summary.estimated_noise_rate <= 0.05  # 2 % flipped
    assert state.estimated_noise_rate == summary.estimated_noise_rate
    assert state.open_flags == len(flags)


def test_a_correction_replaces_the_label_and_the_retrain_learns_it(desk: Desk) -> None:
    _, flipped = _import_with_flips(desk, every=100)
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        flags = [f for f in list_flags(session, process.id) if f.external_id in flipped]
        first, second = flags[0], flags[1]
        assert first.suggested_label is not None
        corrected = resolve_flag(
            session,
            actor="user:1",
            process=process,
            flag_id=first.id,
            answer=FlagResolve(action="correct", label=first.suggested_label),
        )
        kept = resolve_flag(
            session,
            actor="user:1",
            process=process,
            flag_id=second.id,
            answer=FlagResolve(action="confirm"),
        )
        with pytest.raises(Conflict, match="already answered"):
            resolve_flag(
                session, actor="user:1", process=process, flag_id=first.id,
                answer=FlagResolve(action="confirm"),
            )  # fmt: skip
        with pytest.raises(ValidationFailed, match="is not a label of process"):
            resolve_flag(
                session, actor="user:1", process=process, flag_id=flags[2].id,
                answer=FlagResolve(action="correct", label="no_such_label"),
            )  # fmt: skip
    assert (corrected.status, kept.status) == (FlagStatus.CORRECTED, FlagStatus.CONFIRMED)
    with transaction(desk.factory) as session:
        item = session.get_one(Item, first.item_id)
        assert item.history_label == first.suggested_label
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "history.label_corrected")
        ).one()
        assert event.before == {"label": first.label}
        assert event.after["label"] == first.suggested_label
    report = retrain_after_audit(
        desk.factory, process_id=desk.process_id, registry=desk.registry, actor="user:1"
    )
    assert report.version == 2
    with transaction(desk.factory) as session:
        observed = load_history(session, desk.process_id, default_audit_rate=0.05)
    labels = {o.case_id: o.label for o in observed.observations}
    assert labels[str(first.item_id)] == first.suggested_label


def test_a_reaudit_keeps_the_answered_flags(desk: Desk) -> None:
    _import_with_flips(desk, every=100)
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        flag = list_flags(session, process.id)[0]
        resolve_flag(
            session, actor="user:1", process=process, flag_id=flag.id,
            answer=FlagResolve(action="confirm"),
        )  # fmt: skip
    result = audit_labels(desk.factory, process_id=desk.process_id, actor="user:1")
    with transaction(desk.factory) as session:
        open_ids = {f.item_id for f in list_flags(session, desk.process_id)}
        answered = list_flags(session, desk.process_id, status=FlagStatus.CONFIRMED)
    assert flag.item_id not in open_ids
    assert [f.item_id for f in answered] == [flag.item_id]
    assert result.flagged == len(open_ids)
