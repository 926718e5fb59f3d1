"""Drift of live items away from the history (deshi.items.drift): quiet while live items come
from the history's distribution, a warning and one `process.drift` webhook per onset when they
come from other words, checked by a job that ingest queues, never per page view."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from threading import Event

from golive_rows import separable
from history_desk import Desk
from sqlalchemy import select

from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import DriftState, Job, ModelVersion, Process, Webhook, WebhookDelivery
from deshi.domain import ModelStatus
from deshi.history.reader import HistoryRow
from deshi.history.service import import_history
from deshi.items import drift
from deshi.items.models import ItemCreate
from deshi.items.service import IngestLimits, ingest_items
from deshi.jobs.worker import Worker
from deshi.kpis.process_warnings import process_warnings
from deshi.learning.service import DRIFT_REFERENCE
from deshi.webhooks import PROCESS_DRIFT


class _Later:
    """A clock two minutes ahead: the queued check is due."""

    def now(self) -> datetime:
        return utcnow() + 2 * drift.CHECK_DELAY

    def wait(self, stop: Event, seconds: float) -> bool:
        return stop.is_set()


def _warm_start(desk: Desk) -> None:
    rows = [HistoryRow(i + 2, t, label, f"h{i}") for i, (t, label) in enumerate(separable(400))]
    import_history(
        desk.factory,
        actor="cli:test",
        process_id=desk.process_id,
        rows=rows,
        registry=desk.registry,
        audit_labels=False,
    )
    with transaction(desk.factory) as session:
        session.add(Webhook(process_id=desk.process_id, url="https://example.com/h", secret="s"))


def _ingest(desk: Desk, texts: Sequence[str], prefix: str) -> None:
    ingest_items(
        desk.factory,
        principal=desk.admin,
        process_id=desk.process_id,
        items=[ItemCreate(text=t, external_id=f"{prefix}{i}") for i, t in enumerate(texts)],
        limits=IngestLimits(),
        batch=True,
        registry=desk.registry,
    )


def _unseen(n: int) -> list[str]:
    rng = random.Random(5)
    words = [f"zz{i}qq" for i in range(40)]
    return [" ".join(rng.sample(words, 5)) for _ in range(n)]


def _check(desk: Desk) -> bool:
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        figures = drift.check_drift(session, process)
        return drift.record_drift(session, process, figures, now=utcnow())


def _deliveries(desk: Desk) -> int:
    with transaction(desk.factory) as session:
        query = select(WebhookDelivery).where(WebhookDelivery.event == PROCESS_DRIFT)
        return len(session.scalars(query).all())


def _warning_codes(desk: Desk) -> list[str]:
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        return [w.code for w in process_warnings(session, process)]


def test_the_champion_keeps_a_reference_of_its_training_scores(desk: Desk) -> None:
    _warm_start(desk)
    with transaction(desk.factory) as session:
        champion = session.scalars(
            select(ModelVersion).where(ModelVersion.status == ModelStatus.CHAMPION)
        ).one()
        reference = champion.metrics[DRIFT_REFERENCE]
    assert reference["n"] == 400 and abs(sum(reference["shares"]) - 1.0) < 1e-3
    assert 0.0 < reference["novelty_floor"] < 1.0


def test_live_items_like_the_history_raise_no_warning(desk: Desk) -> None:
    _warm_start(desk)
    _ingest(desk, [text for text, _ in separable(150, seed=9)], "live")
    assert _check(desk) is False
    with transaction(desk.factory) as session:
        state = session.get_one(DriftState, desk.process_id)
        assert not state.drifting and state.figures["live_items"] == 150
    assert "input_drift" not in _warning_codes(desk)
    assert _deliveries(desk) == 0


def test_live_items_of_other_words_warn_and_the_webhook_fires_once(desk: Desk) -> None:
    _warm_start(desk)
    _ingest(desk, _unseen(150), "new")
    assert _check(desk) is True  # the onset
    assert _check(desk) is False  # still drifting: no second event
    assert "input_drift" in _warning_codes(desk)
    assert _deliveries(desk) == 1
    with transaction(desk.factory) as session:
        state = session.get_one(DriftState, desk.process_id)
        query = select(WebhookDelivery).where(WebhookDelivery.event == PROCESS_DRIFT)
        delivery = session.scalars(query).one()
        assert state.drifting and state.since is not None
        assert state.figures["novel_share"] > 0.5
        assert delivery.payload["process_id"] == desk.process_id
        assert delivery.payload["drifting"] is True


def test_a_recovery_then_a_new_onset_fires_again(desk: Desk) -> None:
    _warm_start(desk)
    _ingest(desk, _unseen(150), "new")
    assert _check(desk) is True
    _ingest(desk, [text for text, _ in separable(500, seed=11)], "back")  # the window moves on
    assert _check(desk) is False
    with transaction(desk.factory) as session:
        assert session.get_one(DriftState, desk.process_id).since is None
    _ingest(desk, _unseen(400), "again")
    assert _check(desk) is True
    assert _deliveries(desk) == 2


def test_ingest_queues_one_delayed_check_that_the_worker_runs(desk: Desk) -> None:
    _warm_start(desk)
    _ingest(desk, _unseen(60), "a")
    _ingest(desk, _unseen(60), "b")
    with transaction(desk.factory) as session:
        jobs = session.scalars(select(Job).where(Job.kind == drift.DRIFT_JOB)).all()
        assert len(jobs) == 1  # the second ingest joined the queued check
        assert jobs[0].run_after > utcnow() + timedelta(seconds=30)
    now_worker = Worker(desk.factory, {drift.DRIFT_JOB: drift.drift_handler()})
    assert now_worker.run_once() is None  # not due yet
    later = Worker(desk.factory, {drift.DRIFT_JOB: drift.drift_handler()}, clock=_Later())
    assert later.run_once() is not None
    assert later.run_once() is None
    assert _deliveries(desk) == 1 and "input_drift" in _warning_codes(desk)
