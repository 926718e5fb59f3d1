"""Importing history: completed items with their label, idempotent, all-or-nothing, out of the
live KPIs, and a warm start that auto-completes from the first live item."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from history_desk import Desk, make_desk
from history_rows import banking
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import AuditEvent, HistoryImport, Item, ModelVersion, Process
from deshi.domain import ItemOrigin, ItemStatus, Mode, ModelStatus
from deshi.engine.search import SearchLayout
from deshi.engine.serialize import dump_model, load_model
from deshi.errors import Conflict, ValidationFailed
from deshi.history.models import HistorySummary
from deshi.history.reader import HistoryRow
from deshi.history.service import history_state, import_history
from deshi.items.models import ItemCreate
from deshi.items.service import IngestLimits, ingest_items
from deshi.kpis.kpi_report import kpi_report
from deshi.kpis.process_warnings import process_warnings
from deshi.kpis.records import iso_week
from deshi.kpis.repo import load_item_records
from deshi.kpis.weekly_report import weekly_report_html
from deshi.learning.registry import AgentRegistry


def _rows(pairs: Sequence[tuple[str, str]], prefix: str = "h") -> list[HistoryRow]:
    return [
        HistoryRow(row=i + 2, text=text, label=label, external_id=f"{prefix}{i}")
        for i, (text, label) in enumerate(pairs)
    ]


def _import(
    desk: Desk, rows: Iterable[HistoryRow], *, train: bool = False, add_labels: bool = False
) -> HistorySummary:
    return import_history(
        desk.factory,
        actor="cli:test",
        process_id=desk.process_id,
        rows=rows,
        registry=desk.registry,
        train=train,
        add_labels=add_labels,
    )


def _count(factory: sessionmaker[Session], model: type[object]) -> int:
    with transaction(factory) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_rows_become_completed_history_items_with_their_label(desk: Desk) -> None:
    rows = [
        HistoryRow(2, "card lost", "card", "T1", datetime(2023, 5, 1, tzinfo=UTC), {"amt": 3}),
        HistoryRow(3, "", "card", "T2"),  # blank text
        HistoryRow(4, "refund please", "", "T3"),  # blank label
        HistoryRow(5, "refund now", "refund", "T4", handling_seconds=120.0),
        HistoryRow(6, "refund again", "refund", "T4"),  # repeats T4
        HistoryRow(7, "where is my refund", "refund"),  # no id: one from its content
    ]
    summary = _import(desk, rows)
    assert summary.model_dump(include={
        "rows", "imported", "skipped_blank_text", "skipped_blank_label", "repeated_ids",
    }) == {"rows": 6, "imported": 3, "skipped_blank_text": 1, "skipped_blank_label": 1,
           "repeated_ids": 1}  # fmt: skip
    assert summary.labels == {"refund": 2, "card": 1}
    with transaction(desk.factory) as session:
        items = session.scalars(select(Item).order_by(Item.id)).all()
        process = session.get_one(Process, desk.process_id)
        assert [(i.external_id, i.history_label) for i in items][:2] == [
            ("T1", "card"),
            ("T4", "refund"),
        ]
        assert items[2].external_id is not None and items[2].external_id.startswith("history:")
        assert {i.status for i in items} == {ItemStatus.COMPLETED}
        assert {i.origin for i in items} == {ItemOrigin.HISTORY.value}
        assert items[0].created_at == datetime(2023, 5, 1, tzinfo=UTC) and items[0].fields == {
            "amt": 3
        }
        assert process.labels == ["card", "refund"]  # the labels found in the history
        assert process.human_minutes_per_item == 2.0  # the handling times' mean
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "history.import" in actions


def test_reimporting_skips_the_rows_already_there(desk: Desk) -> None:
    rows = _rows([("card lost", "card"), ("refund please", "refund"), ("refund now", "refund")])
    _import(desk, rows)
    again = _import(desk, [*rows, *_rows([("a new one", "card")], prefix="n")])
    assert (again.imported, again.already_imported) == (1, 3)
    assert _count(desk.factory, Item) == 4


def test_an_unknown_label_is_refused_with_the_list_and_nothing_is_stored(
    session_factory: sessionmaker[Session],
) -> None:
    desk = make_desk(session_factory, labels=["card", "refund"])
    rows = _rows([("card lost", "card"), ("my pin", "pin"), ("fx rate", "exchange")])
    with pytest.raises(
        ValidationFailed, match="labels the process does not have: 'exchange', 'pin'"
    ):
        _import(desk, rows)
    assert _count(desk.factory, Item) == 0
    summary = _import(desk, rows, add_labels=True)
    assert summary.labels_added == ["pin", "exchange"]
    with transaction(desk.factory) as session:
        assert session.get_one(Process, desk.process_id).labels == [
            "card",
            "refund",
            "pin",
            "exchange",
        ]


def test_one_label_only_is_refused(desk: Desk) -> None:
    with pytest.raises(ValidationFailed, match="every row has the label 'card'"):
        _import(desk, _rows([("card lost", "card"), ("card stolen", "card")]))
    assert _count(desk.factory, Item) == 0


def test_no_rows_or_nothing_usable_is_refused(desk: Desk) -> None:
    with pytest.raises(ValidationFailed, match="a header but no rows"):
        _import(desk, [])
    with pytest.raises(ValidationFailed, match="no row has both a text and a label"):
        _import(desk, [HistoryRow(2, "", "x"), HistoryRow(3, "text", "")])


def test_a_bad_row_late_in_the_file_leaves_nothing_half_imported(desk: Desk) -> None:
    def rows() -> Iterator[HistoryRow]:
        yield from _rows([(f"ticket {i}", "ab"[i % 2]) for i in range(2500)])
        raise ValidationFailed("row 2502: 'soon' is not a date and time", field="closed")

    with pytest.raises(ValidationFailed, match="row 2502"):
        _import(desk, rows())
    assert _count(desk.factory, Item) == 0
    assert _count(desk.factory, HistoryImport) == 0


def test_an_archived_process_takes_no_history(desk: Desk) -> None:
    with transaction(desk.factory) as session:
        session.get_one(Process, desk.process_id).archived_at = datetime.now(UTC)
    with pytest.raises(Conflict):
        _import(desk, _rows([("a", "x"), ("b", "y")]))


def test_conflicting_near_duplicates_and_rare_labels_are_reported(desk: Desk) -> None:
    pairs = [("Where is my card?", "card"), ("where is my CARD", "delivery")]
    pairs += [(f"refund number {i}", "refund") for i in range(6)]
    summary = _import(desk, _rows(pairs))
    assert summary.conflicting_duplicates == 1
    assert summary.rare_labels == ["card", "delivery"]
    assert summary.rare_label_minimum == 5


def test_history_stays_out_of_the_live_kpis(desk: Desk) -> None:
    _import(desk, _rows([(t, label) for t, label in banking(labels=3)[:60]]), train=True)
    with transaction(desk.factory) as session:
        assert load_item_records(session, session.get_one(Process, desk.process_id)) == []
    ingest_items(
        desk.factory,
        principal=desk.admin,
        process_id=desk.process_id,
        items=[ItemCreate(text="I still have not received my new card")],
        limits=IngestLimits(),
        batch=False,
        registry=desk.registry,
    )
    with transaction(desk.factory) as session:
        records = load_item_records(session, session.get_one(Process, desk.process_id))
        state = history_state(session, session.get_one(Process, desk.process_id))
    assert len(records) == 1
    assert state.items == 60


def test_imported_handling_times_are_the_baseline_until_the_live_arm_has_enough(
    desk: Desk,
) -> None:
    rows = [
        HistoryRow(row=i + 2, text=text, label=label, external_id=f"h{i}",
                   handling_seconds=300.0 if i % 2 else 900.0)  # mean 10 minutes
        for i, (text, label) in enumerate(banking(labels=3)[:40])
    ]  # fmt: skip
    later = datetime.now(UTC) + timedelta(days=30)  # past the no-baseline warning's grace

    def warning_codes() -> set[str]:
        with transaction(desk.factory) as session:
            process = session.get_one(Process, desk.process_id)
            return {w.code for w in process_warnings(session, process, now=later)}

    assert "no_baseline" in warning_codes()
    _import(desk, rows)
    assert "no_baseline" not in warning_codes()
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        report = kpi_report(session, process)
        weekly = weekly_report_html(session, process, iso_week(datetime.now(UTC)), locale="ja")
    assert 'id="baseline-note"' in weekly and "取り込んだ履歴の処理時間" in weekly
    business = report.overall.business
    assert business.baseline_source == "history"
    assert business.baseline_minutes is not None
    assert business.baseline_minutes.value == pytest.approx(10.0)
    assert business.baseline_minutes.n == 40


def test_warm_start_auto_completes_from_the_first_live_items(desk: Desk) -> None:
    """A few thousand past tickets of ten intents, then the live stream in autopilot: the
    threshold is certified on the history, so automation starts at once."""
    summary = _import(desk, _rows(banking(labels=10)), train=True)
    assert summary.threshold is not None
    assert (summary.expected_automation or 0.0) > 0.5
    with transaction(desk.factory) as session:
        session.get_one(Process, desk.process_id).mode = Mode.AUTOPILOT
    live = [text for text, _ in banking("test", labels=10)[:20]]
    statuses = []
    for i, text in enumerate(live):
        [item] = ingest_items(
            desk.factory,
            principal=desk.admin,
            process_id=desk.process_id,
            items=[ItemCreate(text=text, external_id=f"live{i}")],
            limits=IngestLimits(),
            batch=False,
            registry=desk.registry,
        )
        statuses.append(item.status)
    first_auto = statuses.index(ItemStatus.AUTO_COMPLETED)
    assert first_auto < 3, statuses
    assert statuses.count(ItemStatus.AUTO_COMPLETED) >= 10


def test_an_import_with_nothing_new_does_not_retrain(desk: Desk) -> None:
    rows = _rows(banking(labels=3)[:60])
    _import(desk, rows, train=True)
    versions = _count(desk.factory, ModelVersion)
    again = _import(desk, rows, train=True)
    assert again.imported == 0
    assert _count(desk.factory, ModelVersion) == versions


def test_a_restore_builds_its_search_index_with_the_layout_stored_with_the_champion(
    desk: Desk,
) -> None:
    """From 4,096 cases on, the memory is searched through a projection (an SVD); the warm
    start's champion is stored with it, and a server that restores the agent reuses it."""
    rows = banking(labels=40)[:4200]
    assert len(rows) == 4200
    _import(desk, _rows(rows), train=True)
    with transaction(desk.factory) as session:
        row = session.scalars(
            select(ModelVersion).where(
                ModelVersion.process_id == desk.process_id,
                ModelVersion.status == ModelStatus.CHAMPION,
            )
        ).one()
        model = load_model(row.artifact)
        assert model.search_layout is not None
        # Negated, the projection ranks the same shortlist and tells reuse from a recomputation.
        stored = SearchLayout(model.search_layout.common, -model.search_layout.projection)
        row.artifact = dump_model(replace(model, search_layout=stored))

    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        with AgentRegistry().agent(session, process) as entry:  # a restarted server's
            restored = entry.agent.memory.search_layout
            decision = entry.agent.decide(rows[0][0])

    assert restored is not None and restored.common is not None and stored.common is not None
    np.testing.assert_array_equal(restored.projection, stored.projection)
    np.testing.assert_array_equal(restored.common, stored.common)
    assert decision.label == rows[0][1]
