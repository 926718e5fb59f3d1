"""Slow KPI reads recomputed in the background (deshi.kpis.refresh): with a refresher, a view of
changed data whose last computation was slow is answered at once from the stored result,
marked `as_of`, without computing, and a child process stores the new result, which the next
view reads; without one (the CLI, scripts, the apps the other tests build) every view is
exact."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial

import pytest
from fastapi.testclient import TestClient
from kpi_world import KpiWorld, answer_waiting_item, sign_in_owner
from pydantic import RootModel
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import KpiSnapshot, Process
from deshi.kpis import kpi_report as kpi_report_module
from deshi.kpis import process_warnings as warnings_module
from deshi.kpis.cache import Fingerprint, cached_model, fingerprint
from deshi.kpis.context import get_process, load_records_between, spared_seconds
from deshi.kpis.kpi_report import fresh_kpi_report, kpi_report
from deshi.kpis.models import KpiReport
from deshi.kpis.process_warnings import process_warnings
from deshi.kpis.recompute import recompute_read
from deshi.kpis.refresh import KpiRead, KpiRefresher, child_process_pool
from deshi.settings import Settings
from deshi.web import create_app
from deshi.web.config import ApiConfig

WAIT = 60.0  # seconds a refresh may take on a loaded machine


@pytest.fixture
def refresher(db_url: str, engine: Engine) -> Iterator[KpiRefresher]:
    """As `deshi serve` builds it with `DESHI_KPI_INLINE_SECONDS=0`: every read that was timed
    is recomputed in a child process."""
    made = KpiRefresher(
        child_process_pool,
        partial(recompute_read, Settings(database_url=db_url)),
        inline_seconds=0.0,
    )
    yield made
    made.close()


def _report(
    factory: sessionmaker[Session], process_id: int, refresher: KpiRefresher | None
) -> KpiReport:
    with transaction(factory, lock_early=False) as session:
        return kpi_report(session, get_process(session, process_id), refresher=refresher)


def _fresh(factory: sessionmaker[Session], process_id: int) -> KpiReport:
    with transaction(factory, lock_early=False) as session:
        return fresh_kpi_report(session, get_process(session, process_id))


def _reviews(report: KpiReport) -> int:
    reviews = report.overall.flywheel.reviews
    assert reviews is not None
    return int(reviews.value)


def test_a_slow_reads_stale_result_is_served_at_once_then_replaced_in_the_background(
    session_factory: sessionmaker[Session],
    world: KpiWorld,
    refresher: KpiRefresher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _report(session_factory, world.process, refresher)
    assert first.as_of is None  # nothing stored yet: computed while the viewer waited
    answer_waiting_item(session_factory, world)
    monkeypatch.setattr(kpi_report_module, "fresh_kpi_report", _refuse)  # not in this process
    stale = _report(session_factory, world.process, refresher)
    assert stale.as_of is not None
    assert stale.model_copy(update={"as_of": None}) == first  # the whole earlier report
    assert refresher.wait(WAIT)
    fresh = _report(session_factory, world.process, refresher)  # stored by the child
    monkeypatch.undo()
    assert fresh.as_of is None
    assert _reviews(fresh) == _reviews(first) + 1
    assert fresh == _fresh(session_factory, world.process)


def _refuse(*_args: object, **_kwargs: object) -> object:
    raise AssertionError("computed while the viewer waited")


def test_a_fast_read_is_recomputed_while_the_viewer_waits(
    session_factory: sessionmaker[Session], world: KpiWorld, refresher: KpiRefresher
) -> None:
    refresher.inline_seconds = 3600.0
    first = _report(session_factory, world.process, refresher)
    answer_waiting_item(session_factory, world)
    after = _report(session_factory, world.process, refresher)
    assert after.as_of is None and _reviews(after) == _reviews(first) + 1
    assert refresher.pending() == 0


def test_a_result_stored_without_its_time_is_recomputed_while_the_viewer_waits(
    session_factory: sessionmaker[Session], world: KpiWorld, refresher: KpiRefresher
) -> None:
    """Rows stored before migration 0025 were not timed: nothing says they are slow."""
    first = _report(session_factory, world.process, refresher)
    with transaction(session_factory) as session:
        session.execute(update(KpiSnapshot).values(seconds=None))
    answer_waiting_item(session_factory, world)
    after = _report(session_factory, world.process, refresher)
    assert after.as_of is None and _reviews(after) == _reviews(first) + 1


def test_warnings_are_refreshed_the_same_way(
    session_factory: sessionmaker[Session],
    world: KpiWorld,
    refresher: KpiRefresher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def codes() -> list[str]:
        with transaction(session_factory, lock_early=False) as session:
            process = get_process(session, world.process)
            return [w.code for w in process_warnings(session, process, refresher=refresher)]

    def stored() -> tuple[str, object]:
        with session_factory() as session:
            query = select(KpiSnapshot.watermark, KpiSnapshot.computed_at)
            found = session.execute(query.where(KpiSnapshot.key.startswith("warnings|"))).one()
            return found[0], found[1]

    first = codes()
    before = stored()
    answer_waiting_item(session_factory, world)
    monkeypatch.setattr(warnings_module, "fresh_process_warnings", _refuse)
    assert codes() == first  # the stored list, served at once
    assert refresher.wait(WAIT)
    after = stored()
    assert after[0] != before[0] and after[1] != before[1]  # the child stored a new list
    codes()  # and it is served: still nothing computed here


def test_the_first_view_in_a_new_week_is_served_last_weeks_report_while_the_child_computes(
    session_factory: sessionmaker[Session],
    world: KpiWorld,
    refresher: KpiRefresher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A report's key holds the week of the clock: a new week has none stored of its own."""
    this_week, next_week = utcnow(), utcnow() + timedelta(days=7)

    def report(now: datetime) -> KpiReport:
        with transaction(session_factory, lock_early=False) as session:
            process = get_process(session, world.process)
            return kpi_report(session, process, now=now, refresher=refresher)

    first = report(this_week)
    monkeypatch.setattr(kpi_report_module, "fresh_kpi_report", _refuse)  # not in this process
    stale = report(next_week)
    assert stale.as_of is not None and stale.model_copy(update={"as_of": None}) == first
    assert refresher.wait(WAIT)
    fresh = report(next_week)  # stored by the child
    monkeypatch.undo()
    assert fresh.as_of is None
    with transaction(session_factory, lock_early=False) as session:
        process = get_process(session, world.process)
        assert fresh == fresh_kpi_report(session, process, now=next_week)


def test_the_first_warnings_of_a_new_day_are_yesterdays_while_the_child_computes(
    session_factory: sessionmaker[Session],
    world: KpiWorld,
    refresher: KpiRefresher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    today, tomorrow = utcnow(), utcnow() + timedelta(days=1)

    def codes(now: datetime) -> list[str]:
        with transaction(session_factory, lock_early=False) as session:
            process = get_process(session, world.process)
            return [
                w.code for w in process_warnings(session, process, now=now, refresher=refresher)
            ]

    def keys() -> set[str]:
        with session_factory() as session:
            query = select(KpiSnapshot.key).where(KpiSnapshot.key.startswith("warnings|"))
            return set(session.scalars(query))

    first = codes(today)
    monkeypatch.setattr(warnings_module, "fresh_process_warnings", _refuse)
    assert codes(tomorrow) == first  # yesterday's list, served at once
    assert refresher.wait(WAIT)
    assert len(keys()) == 2  # the child stored tomorrow's
    codes(tomorrow)  # and it is served: still nothing computed here


def test_a_new_weeks_first_view_waits_when_last_weeks_report_was_fast(
    session_factory: sessionmaker[Session], world: KpiWorld, refresher: KpiRefresher
) -> None:
    refresher.inline_seconds = 3600.0
    with transaction(session_factory, lock_early=False) as session:
        process = get_process(session, world.process)
        kpi_report(session, process, refresher=refresher)
        later = kpi_report(session, process, now=utcnow() + timedelta(days=7), refresher=refresher)
    assert later.as_of is None and refresher.pending() == 0


def _read(process_id: int) -> KpiRead:
    return KpiRead("kpis", process_id, "kpis|None|None|None|2026-W49")


class _Count(RootModel[int]):
    """A stored value for a probe read."""


def test_a_read_counts_the_record_loading_an_earlier_read_spared_it(
    session_factory: sessionmaker[Session], world: KpiWorld
) -> None:
    """A page's warnings read the records its KPI report loaded. Timed without that loading they
    looked fast, so the first view after the next change computed them while the viewer waited
    (1.9 s at 100,000 items: docs/kpis.md)."""

    def read_records(session: Session, process: Process, found: Fingerprint) -> _Count:
        return _Count(len(load_records_between(session, process, None, None, memo=found.rows)))

    with transaction(session_factory, lock_early=False) as session:
        process = get_process(session, world.process)
        found = fingerprint(session, process)
        read_records(session, process, found)  # the first read loads the records
        before = spared_seconds(session)
        compute = partial(read_records, session, process, found)  # the second one reuses them
        cached_model(session, world.process, "probe", found, compute, _Count)
        spared = spared_seconds(session) - before
    with session_factory() as session:
        stored = session.scalar(select(KpiSnapshot.seconds).where(KpiSnapshot.key == "probe"))
    assert spared > 0
    assert stored is not None and stored >= spared


def test_a_read_waiting_or_running_is_not_queued_twice() -> None:
    started, release = threading.Event(), threading.Event()
    runs: list[KpiRead] = []

    def slow(read: KpiRead) -> None:
        runs.append(read)
        started.set()
        release.wait(WAIT)

    refresher = KpiRefresher(_one_thread, slow, inline_seconds=0.0)
    try:
        refresher.submit(_read(1))
        assert started.wait(WAIT)
        refresher.submit(_read(1))  # running: dropped
        refresher.submit(_read(2))  # another process's read: queued
        refresher.submit(_read(2))  # waiting: dropped
        assert refresher.pending() == 2
        assert not refresher.wait(0.05)
        release.set()
        assert refresher.wait(WAIT)
        assert [read.process_id for read in runs] == [1, 2]
    finally:
        release.set()
        refresher.close()


def test_a_failed_refresh_is_logged_and_forgotten(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_read: KpiRead) -> None:
        raise RuntimeError("the database went away")

    refresher = KpiRefresher(_one_thread, broken, inline_seconds=0.0)
    try:
        refresher.submit(_read(7))
        assert refresher.wait(WAIT)
        assert refresher.pending() == 0  # a later view may queue it again
        assert "not recomputed" in caplog.text and "the database went away" in caplog.text
    finally:
        refresher.close()


def test_after_a_failed_refresh_the_next_viewer_computes_then_the_background_again() -> None:
    def broken(_read: KpiRead) -> None:
        raise RuntimeError("the database went away")

    refresher = KpiRefresher(_one_thread, broken, inline_seconds=0.0)
    try:
        assert refresher.submit(_read(7)) and refresher.wait(WAIT)
        assert not refresher.submit(_read(7))  # this viewer waits for a fresh result
        assert refresher.submit(_read(7))  # the next change is refreshed in the background
        assert refresher.wait(WAIT)
    finally:
        refresher.close()


def test_a_closed_refresher_leaves_the_read_to_the_viewer() -> None:
    refresher = KpiRefresher(_one_thread, print, inline_seconds=0.0)
    refresher.close()
    assert not refresher.submit(_read(3))
    assert refresher.pending() == 0


def _die(_read: KpiRead) -> None:
    os._exit(3)  # as a child killed by the kernel's out-of-memory killer


def test_a_lost_child_process_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    made: list[Executor] = []

    def pools() -> Executor:
        made.append(child_process_pool())
        return made[-1]

    refresher = KpiRefresher(pools, _die, inline_seconds=0.0)
    try:
        assert refresher.submit(_read(1)) and refresher.wait(WAIT)
        assert "not recomputed" in caplog.text  # the child died under it
        assert refresher.submit(_read(2))  # the broken pool is replaced
        assert len(made) == 2 and "process lost" in caplog.text
        assert refresher.wait(WAIT)
    finally:
        refresher.close()


def _one_thread() -> Executor:
    return ThreadPoolExecutor(max_workers=1)


def test_the_child_process_logs_in_the_servers_format(capfd: pytest.CaptureFixture[str]) -> None:
    """A spawned child starts with logging unconfigured (Python's bare "WARNING:name:" lines);
    given the settings it writes the server's JSON lines to the same stderr."""
    settings = Settings(database_url="sqlite://", log_format="json", log_level="INFO")
    with child_process_pool(settings) as pool:
        say = logging.getLogger("deshi.kpis.recompute").info  # pickled by the logger's name
        pool.submit(say, "recomputed %s in %.1f s", "kpis", 2.5).result()
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("INFO", "deshi.kpis.recompute", "recomputed kpis in 2.5 s")
    ]
    assert lines[0]["request_id"] is None


def test_a_negative_inline_time_is_refused() -> None:
    with pytest.raises(ValueError, match="inline_seconds"):
        KpiRefresher(_one_thread, print, inline_seconds=-1.0)


def test_only_a_long_running_server_defers_by_the_setting() -> None:
    settings = Settings(database_url="sqlite://", kpi_inline_seconds=0.5)
    assert ApiConfig.from_settings(settings, long_running=True).kpi_inline_seconds == 0.5
    assert ApiConfig.from_settings(settings).kpi_inline_seconds is None
    app = create_app(settings)
    assert app.state.kpi_refresher is None
    app.state.engine.dispose()


@pytest.fixture
def deferring_client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    """The app as `deshi serve` builds it with `DESHI_KPI_INLINE_SECONDS=0`."""
    app = create_app(Settings(database_url=db_url), config=ApiConfig(kpi_inline_seconds=0.0))
    with TestClient(app) as test_client:
        yield test_client


def test_the_api_says_as_of_when_the_report_is_being_recomputed(
    session_factory: sessionmaker[Session], world: KpiWorld, deferring_client: TestClient
) -> None:
    path, auth = f"/processes/{world.process}/kpis", world.auth("owner")
    first = deferring_client.get(path, headers=auth).json()
    assert first["as_of"] is None
    answer_waiting_item(session_factory, world)
    stale = deferring_client.get(path, headers=auth).json()
    assert stale["as_of"] is not None
    assert stale["overall"] == first["overall"]
    refresher: KpiRefresher = deferring_client.app.state.kpi_refresher  # type: ignore[attr-defined]
    assert refresher.wait(WAIT)
    fresh = deferring_client.get(path, headers=auth).json()
    assert fresh["as_of"] is None
    reviews = fresh["overall"]["flywheel"]["reviews"]["value"]
    assert reviews == first["overall"]["flywheel"]["reviews"]["value"] + 1
    schema = deferring_client.get("/openapi.json", headers=auth).json()
    assert "as_of" in schema["components"]["schemas"]["KpiReport"]["properties"]


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_the_dashboard_and_the_weekly_report_say_when_their_numbers_are_of(
    session_factory: sessionmaker[Session],
    world: KpiWorld,
    deferring_client: TestClient,
    locale: str,
) -> None:
    sign_in_owner(deferring_client, session_factory, world)
    dashboard = f"/ui/processes/{world.process}"
    html = {"Accept": "text/html", "Accept-Language": locale}
    first = deferring_client.get(dashboard, headers=html).text
    assert 'id="kpis-as-of"' not in first
    week = re.search(r'report\?week=([0-9]{4}-W[0-9]{2})"', first)
    assert week is not None
    report = f"/ui/processes/{world.process}/report?week={week[1]}"
    assert 'id="kpis-as-of"' not in deferring_client.get(report, headers=html).text
    answer_waiting_item(session_factory, world)
    page = deferring_client.get(dashboard, headers=html).text
    weekly = deferring_client.get(report, headers=html).text
    notice = "newer work is being counted" if locale == "en" else "その後の作業を集計中です"
    for shown in (page, weekly):
        assert 'id="kpis-as-of"' in shown and notice in shown
    refresher: KpiRefresher = deferring_client.app.state.kpi_refresher  # type: ignore[attr-defined]
    assert refresher.wait(WAIT)
    assert 'id="kpis-as-of"' not in deferring_client.get(dashboard, headers=html).text
