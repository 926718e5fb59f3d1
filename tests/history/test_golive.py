"""The go-live check: the most recent slice of the history replayed by an agent trained on the
rest, on synthetic data where the truth is known, and the check as a stored background job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from golive_rows import separable
from history_desk import Desk
from sqlalchemy import func, select

from deshi.db import transaction
from deshi.db.tables import GoLiveCheck, Job, Process
from deshi.engine import AgentConfig, Policy
from deshi.history import golive
from deshi.history.golive import HistoryCase, golive_figures, replay_recent_slice, verdict
from deshi.history.reader import HistoryRow
from deshi.history.service import import_history
from deshi.jobs.worker import Worker

POLICY = Policy(error_budget=0.05, confidence=0.95)
CONFIG = AgentConfig(policy=POLICY, training_threads=1)


def _cases(rows: Sequence[tuple[str, str]]) -> list[HistoryCase]:
    return [HistoryCase(str(i), text, label, {}) for i, (text, label) in enumerate(rows)]


def _said(rows: Sequence[tuple[str, str]]) -> golive.Verdict:
    counts = replay_recent_slice(_cases(rows), config=CONFIG)
    figures = golive_figures(counts, confidence=POLICY.confidence) if counts else None
    return verdict(figures, error_budget=POLICY.error_budget, history_items=len(rows))


def test_the_slice_is_the_newest_fifth_within_its_bounds() -> None:
    assert golive.slice_size(59) == 0  # 12 would be too few to say anything
    assert golive.slice_size(100) == 20
    assert golive.slice_size(1000) == 200
    assert golive.slice_size(100_000) == golive.MAX_SLICE


def test_separable_labels_predict_high_automation_within_the_budget() -> None:
    said = _said(separable(400))
    assert said.code == "golive_holds", said.message
    assert float(said.params["automation"]) > 0.8
    assert said.params["items"] == 80
    assert said.message.startswith("Would auto-complete ")
    assert "within the 5.00% budget" in said.message


def test_label_noise_above_the_budget_says_the_budget_would_not_hold() -> None:
    said = _said(separable(400, noise=0.2))
    assert said.code in {"golive_nothing_automated", "golive_breaks"}, said.message
    assert "budget" in said.message and "within the 5.00% budget (" not in said.message


def test_a_recent_slice_unlike_the_older_history_breaks_the_budget() -> None:
    clean, noisy = separable(320, seed=1), separable(80, seed=2, noise=0.3)
    said = _said(clean + noisy)
    assert said.code == "golive_breaks", said.message
    assert said.message.endswith("the 5.00% budget would not hold.")


def test_no_item_of_the_slice_is_scored_by_a_model_that_saw_it() -> None:
    rows = separable(200)
    # The slice repeats none of the training texts but its labels are flipped: a model that had
    # seen the slice would be right on it; one that did not is wrong wherever it is confident.
    flipped = [(text, "billing" if label != "billing" else "account") for text, label in rows[160:]]
    counts = replay_recent_slice(_cases(rows[:160] + flipped), config=CONFIG)
    assert counts is not None and counts.trained_on == 160 and counts.items == 40
    assert counts.auto_errors == counts.auto


def test_too_little_history_is_said_so() -> None:
    said = _said(separable(30))
    assert said.code == "golive_too_little_history"
    assert said.message == "Too little history for a go-live check: 30 item(s), at least 60 needed."


def _import(desk: Desk, rows: Sequence[tuple[str, str]], *, train: bool) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    history = [
        HistoryRow(i + 2, text, label, f"h{i}", start + timedelta(hours=i))
        for i, (text, label) in enumerate(rows)
    ]
    import_history(
        desk.factory,
        actor="cli:test",
        process_id=desk.process_id,
        rows=history,
        registry=desk.registry,
        train=train,
        audit_labels=False,
    )


def test_a_check_is_queued_run_by_the_worker_and_stored(desk: Desk) -> None:
    _import(desk, separable(400), train=False)
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        process.error_budget = 0.05
        assert golive.latest_golive(session, process).status == "none"
        first = golive.request_golive(session, process=process, actor="user:1")
        again = golive.request_golive(session, process=process, actor="user:1")
    assert first.status == "queued" and again.check_id == first.check_id  # one queued at a time
    worker = Worker(desk.factory, {golive.GOLIVE_JOB: golive.golive_handler()})
    assert worker.run_once() is not None
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        done = golive.latest_golive(session, process)
        assert done.status == "done" and done.verdict == "holds", done.message
        assert done.figures is not None and done.figures.items == 80
        assert done.figures.trained_on == 320 and not done.stale
        assert done.error_budget == 0.05 and done.history_items == 400
        process.error_budget = 0.02
        session.flush()
        assert golive.latest_golive(session, process).stale  # the policy moved since


def test_an_import_that_retrains_queues_a_check(desk: Desk) -> None:
    _import(desk, separable(120), train=True)
    with transaction(desk.factory) as session:
        check = session.scalars(select(GoLiveCheck)).one()
        assert (check.status, check.requested_by) == ("queued", "cli:test")
        jobs = session.scalar(select(func.count()).where(Job.kind == golive.GOLIVE_JOB))
        assert jobs == 1


def test_a_process_without_history_reports_none(desk: Desk) -> None:
    with transaction(desk.factory) as session:
        public = golive.latest_golive(session, session.get_one(Process, desk.process_id))
    assert (public.status, public.history_items, public.figures) == ("none", 0, None)


def test_run_golive_runs_at_once_for_the_operator(desk: Desk) -> None:
    _import(desk, separable(100), train=False)
    public = golive.run_golive(desk.factory, process_id=desk.process_id, actor="cli:test")
    assert public.status == "done" and public.figures is not None
    assert public.figures.items == 20 and public.message
