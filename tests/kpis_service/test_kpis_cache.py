"""The KPI cache (deshi.kpis.cache): a stored KPI report or warnings list equals a fresh
computation exactly, and any change to the data under it (a review, an audit, an undone review,
a policy change, a promotion) makes the next view recompute, across separate API processes too."""

from __future__ import annotations

import re
from collections import OrderedDict
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kpi_world import LABELS, KpiWorld, answer_waiting_item, sign_in_owner
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.base import utcnow
from deshi.db.tables import Decision, Item, KpiSnapshot, ModelVersion, Review
from deshi.domain import ItemStatus, ModelStatus, ReviewAction
from deshi.engine.types import Route
from deshi.kpis import kpi_report as kpi_report_module
from deshi.kpis import model_quality
from deshi.kpis import process_warnings as warnings_module
from deshi.kpis import repo as kpi_repo
from deshi.kpis.context import get_process
from deshi.kpis.kpi_report import fresh_kpi_report, kpi_report
from deshi.kpis.models import KpiReport
from deshi.kpis.process_warnings import fresh_process_warnings, process_warnings
from deshi.kpis.records import iso_week
from deshi.kpis.weekly_report import weekly_report_html
from deshi.settings import Settings
from deshi.web import create_app


def _report(factory: sessionmaker[Session], process_id: int) -> KpiReport:
    with transaction(factory, lock_early=False) as session:
        return kpi_report(session, get_process(session, process_id))


def _fresh(factory: sessionmaker[Session], process_id: int) -> KpiReport:
    with transaction(factory, lock_early=False) as session:
        return fresh_kpi_report(session, get_process(session, process_id))


def _snapshots(factory: sessionmaker[Session], process_id: int) -> int:
    with factory() as session:
        query = select(func.count()).select_from(KpiSnapshot)
        return session.scalar(query.where(KpiSnapshot.process_id == process_id)) or 0


def _add_audit(factory: sessionmaker[Session], world: KpiWorld, *, wrong: bool) -> None:
    """An audited AI-led item, answered blind (wrong: the agent's label was not the truth)."""
    with transaction(factory) as session:
        now = utcnow()
        item = Item(
            process_id=world.process,
            text="audit me",
            arm="ai_led",
            status=ItemStatus.COMPLETED,
            created_at=now - timedelta(minutes=5),
            completed_at=now,
        )
        session.add(item)
        session.flush()
        session.add(
            Decision(
                item_id=item.id,
                label=LABELS[0],
                confidence=0.99,
                route=Route.AUDIT,
                created_at=item.created_at,
            )
        )
        truth = LABELS[2] if wrong else LABELS[0]
        session.add(
            Review(
                item_id=item.id,
                reviewer_id=world.user_ids["reviewer"],
                action=ReviewAction.CORRECT,
                final_label=truth,
                seconds=60.0,
                blind=True,
                created_at=now,
            )
        )


def test_a_repeated_view_reads_the_stored_report_equal_to_a_fresh_one_bit_for_bit(
    session_factory: sessionmaker[Session], world: KpiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _report(session_factory, world.process)
    assert _snapshots(session_factory, world.process) == 1
    monkeypatch.setattr(kpi_report_module, "fresh_kpi_report", _refuse)
    cached = _report(session_factory, world.process)
    monkeypatch.undo()
    fresh = _fresh(session_factory, world.process)
    assert cached == fresh == first
    assert cached.model_dump_json() == fresh.model_dump_json()  # every float, the bootstrap's too
    assert cached.overall.model.calibration_error is not None


def _refuse(*_args: object, **_kwargs: object) -> KpiReport:
    raise AssertionError("the report was recomputed although the data did not change")


def test_a_new_review_makes_the_next_view_recompute(
    session_factory: sessionmaker[Session], world: KpiWorld
) -> None:
    before = _report(session_factory, world.process)
    answer_waiting_item(session_factory, world)
    after = _report(session_factory, world.process)
    assert after.overall.flywheel.reviews is not None
    assert before.overall.flywheel.reviews is not None
    assert after.overall.flywheel.reviews.value == before.overall.flywheel.reviews.value + 1
    assert after == _fresh(session_factory, world.process)


def test_a_new_audit_makes_the_next_view_recompute_the_budget(
    session_factory: sessionmaker[Session], world: KpiWorld
) -> None:
    before = _report(session_factory, world.process).overall.model.budget
    _add_audit(session_factory, world, wrong=True)
    after = _report(session_factory, world.process).overall.model.budget
    assert before is not None and after is not None
    assert (after.audits, after.errors) == (before.audits + 1, before.errors + 1)


def test_after_a_review_only_its_weeks_and_the_periods_bootstraps_are_drawn_again(
    session_factory: sessionmaker[Session], world: KpiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_quality, "_CALIBRATIONS", OrderedDict())  # nothing remembered
    before = _report(session_factory, world.process)
    answer_waiting_item(session_factory, world)
    drawn: list[int] = []
    original = model_quality.bootstrap_interval

    def counted(*args: Any, **kwargs: Any) -> Any:
        drawn.append(args[1])  # the number of judged items resampled
        return original(*args, **kwargs)

    monkeypatch.setattr(model_quality, "bootstrap_interval", counted)
    after = _report(session_factory, world.process)
    assert len(before.weeks) > 2
    assert len(drawn) == 2  # the answered item's week and the whole period; the rest remembered
    assert max(drawn) == after.overall.model.calibration_error.n  # type: ignore[union-attr]
    monkeypatch.setattr(model_quality, "_CALIBRATIONS", OrderedDict())  # forget them all
    fresh = _fresh(session_factory, world.process)
    assert after.model_dump_json() == fresh.model_dump_json()  # the remembered ones to the bit
    assert len(drawn) > 2


def test_an_undone_review_makes_the_next_view_recompute(
    session_factory: sessionmaker[Session], world: KpiWorld
) -> None:
    base = _report(session_factory, world.process)
    item_id = answer_waiting_item(session_factory, world, label=LABELS[1])
    answered = _report(session_factory, world.process)
    with transaction(session_factory) as session:  # what undo does: the row goes, the item waits
        session.execute(delete(Review).where(Review.item_id == item_id))
        item = session.get(Item, item_id)
        assert item is not None
        item.status, item.completed_at = ItemStatus.CLAIMED, None
    undone = _report(session_factory, world.process)
    assert undone != answered
    assert undone == _fresh(session_factory, world.process)
    assert undone.overall == base.overall
    # answered again (on SQLite the new row may even reuse the deleted row's id)
    _answer_waiting_item_again(session_factory, world, item_id, label=LABELS[2])
    assert _report(session_factory, world.process) == _fresh(session_factory, world.process)


def _answer_waiting_item_again(
    factory: sessionmaker[Session], world: KpiWorld, item_id: int, *, label: str
) -> None:
    with transaction(factory) as session:
        item = session.get(Item, item_id)
        assert item is not None
        now = utcnow()
        session.add(
            Review(
                item_id=item_id,
                reviewer_id=world.user_ids["reviewer2"],
                action=ReviewAction.CORRECT,
                final_label=label,
                seconds=99.0,
                blind=False,
                created_at=now,
            )
        )
        item.status, item.completed_at = ItemStatus.COMPLETED, now


def test_a_policy_change_or_a_promotion_makes_the_next_view_recompute(
    session_factory: sessionmaker[Session], world: KpiWorld
) -> None:
    _report(session_factory, world.process)
    with transaction(session_factory) as session:
        get_process(session, world.process).error_budget = 0.05
    assert _report(session_factory, world.process).error_budget == 0.05
    with transaction(session_factory) as session:
        session.add(
            ModelVersion(
                process_id=world.process,
                version=9,
                artifact=b"",
                status=ModelStatus.CHAMPION,
                trained_on=500,
                metrics={"holdout": 20, "challenger_correct": 19},
                promoted_at=utcnow(),
            )
        )
    assert _report(session_factory, world.process) == _fresh(session_factory, world.process)


def test_cached_warnings_equal_fresh_ones_and_follow_the_data(
    session_factory: sessionmaker[Session], world: KpiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def warnings() -> list[str]:
        with transaction(session_factory, lock_early=False) as session:
            process = get_process(session, world.process)
            found = process_warnings(session, process)
            assert found == fresh_process_warnings(session, process)
            return [w.code for w in found]

    first = warnings()
    monkeypatch.setattr(warnings_module, "fresh_process_warnings", _refuse)
    with transaction(session_factory, lock_early=False) as session:
        cached = [w.code for w in process_warnings(session, get_process(session, world.process))]
    assert cached == first
    monkeypatch.undo()
    for _ in range(4):  # four wrong audits break a 1 % budget
        _add_audit(session_factory, world, wrong=True)
    assert "error_budget_broken" in warnings()


def test_a_write_by_another_api_process_reaches_the_next_view(
    db_url: str, engine: Engine, world: KpiWorld
) -> None:
    """Two apps on one database (two server processes): the second reads what the first
    stored, and sees the review the first one's database took at once."""
    with (
        TestClient(create_app(Settings(database_url=db_url))) as first,
        TestClient(create_app(Settings(database_url=db_url))) as second,
    ):
        path, auth = f"/processes/{world.process}/kpis", world.auth("owner")
        one = first.get(path, headers=auth).json()
        assert second.get(path, headers=auth).json() == one
        answer_waiting_item(make_session_factory(engine), world)
        two = second.get(path, headers=auth).json()
        assert two["overall"]["flywheel"]["reviews"]["value"] == (
            one["overall"]["flywheel"]["reviews"]["value"] + 1
        )
        assert first.get(path, headers=auth).json() == two


def test_a_view_is_served_while_another_connection_holds_the_write_lock(
    db_url: str, engine: Engine, world: KpiWorld
) -> None:
    """The memo is best-effort: when it cannot be stored, the view still answers (and the next
    view computes again)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's database-wide write lock")
    impatient = create_db_engine(db_url, sqlite_busy_timeout_ms=50)
    factory = make_session_factory(impatient)
    with transaction(make_session_factory(engine)) as holder:
        holder.execute(select(1))  # BEGIN IMMEDIATE: this connection holds the write lock
        report = _report(factory, world.process)
    impatient.dispose()
    assert _snapshots(make_session_factory(engine), world.process) == 0
    assert report == _fresh(make_session_factory(engine), world.process)


def test_work_on_another_process_does_not_recompute_this_ones_report(
    session_factory: sessionmaker[Session], world: KpiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's new item moves the workspace's watermark; this process's own rows
    are unchanged, so its stored report is served (and the new watermark remembered)."""
    first = _report(session_factory, world.process)
    with transaction(session_factory) as session:
        item = Item(
            process_id=world.orphan_process,
            text="elsewhere",
            arm="assisted",
            status=ItemStatus.QUEUED,
        )
        session.add(item)
        session.flush()
        session.add(Decision(item_id=item.id, label=LABELS[0], confidence=0.5, route=Route.REVIEW))
    with session_factory() as session:
        before = session.scalars(select(KpiSnapshot.watermark)).one()
    monkeypatch.setattr(kpi_report_module, "fresh_kpi_report", _refuse)
    assert _report(session_factory, world.process) == first
    with session_factory() as session:
        assert session.scalars(select(KpiSnapshot.watermark)).one() != before


def _reviews_card(page: str) -> str:
    found = re.search(
        r'data-kpi="reviews">.*?<div class="card-value">([^<]*)</div>', page, flags=re.S
    )
    assert found is not None, "no reviews card"
    return found.group(1).strip()


def test_the_dashboard_shows_a_new_review_on_the_next_view(
    session_factory: sessionmaker[Session], world: KpiWorld, client: TestClient
) -> None:
    sign_in_owner(client, session_factory, world)
    path = f"/ui/processes/{world.process}"
    first = _reviews_card(client.get(path, headers={"Accept": "text/html"}).text)
    assert _reviews_card(client.get(path, headers={"Accept": "text/html"}).text) == first
    answer_waiting_item(session_factory, world)
    after = _reviews_card(client.get(path, headers={"Accept": "text/html"}).text)
    assert int(after.replace(",", "")) == int(first.replace(",", "")) + 1


@pytest.mark.parametrize("week", ["closed", "current"])
def test_a_page_of_kpis_and_warnings_reads_the_items_once(
    session_factory: sessionmaker[Session],
    world: KpiWorld,
    monkeypatch: pytest.MonkeyPatch,
    week: str,
) -> None:
    """The dashboard (KPIs, then warnings) and a weekly report (KPIs to the week's end, then
    the warnings as of then) share one read of the items; the warnings read that way equal a
    fresh computation."""
    reads: list[object] = []
    original = kpi_repo.load_item_records

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(kpi_repo, "load_item_records", counted)
    chosen = world.weeks[-2] if week == "closed" else iso_week(utcnow())
    with transaction(session_factory, lock_early=False) as session:
        process = get_process(session, world.process)
        weekly_report_html(session, process, chosen)
        assert len(reads) == 1
        kpi_report(session, process)
        found = process_warnings(session, process)
    # a week with items after it: the dashboard's whole span is a second read
    assert len(reads) == (2 if week == "closed" else 1)
    with transaction(session_factory, lock_early=False) as session:
        assert found == fresh_process_warnings(session, get_process(session, world.process))
