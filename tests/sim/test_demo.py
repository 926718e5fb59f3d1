"""`deshi demo`: a small simulated workspace built through the real services, end to end."""

from __future__ import annotations

import itertools
import json
import random
import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from deshi.audit import verify_chain
from deshi.auth.service import authenticate_password
from deshi.cli.main import app
from deshi.db import create_db_engine, make_session_factory
from deshi.db.tables import Item, KnowledgeDocument, ModelVersion, Process, Review
from deshi.drafting.extractive import ExtractiveDrafter
from deshi.drafting.models import DraftRequest
from deshi.drafting.service import draft_reply
from deshi.knowledge import KnowledgeIndex
from deshi.sim.demo_timing import (
    MEDIAN_SECONDS,
    arrival_times,
    demo_weeks,
    handling_seconds,
)

PASSWORD = re.compile(r"Password \(generated for this workspace, shown once\): (\S+)")


@dataclass(frozen=True)
class DemoRun:
    workspace: Path
    result: Result
    summary: dict[str, Any]

    @property
    def password(self) -> str:
        match = PASSWORD.search(self.result.output)
        assert match is not None, self.result.output
        return match.group(1)


def _run(workspace: Path, *args: str) -> Result:
    """`deshi demo` without serving; no imported history unless `args` ask for it."""
    history = [] if "--history" in args else ["--history", "0"]
    command = ["demo", "--workspace", str(workspace), "--no-serve", *history, *args]
    return CliRunner().invoke(app, command)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One small demo (600 items of history, then 3 weeks × 60 items) shared by the tests of
    this module."""
    root = tmp_path_factory.mktemp("demo")
    out = root / "summary.json"
    result = _run(
        root / "ws", "--weeks", "3", "--items-per-week", "60", "--history", "600",
        "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return DemoRun(root / "ws", result, json.loads(out.read_text(encoding="utf-8")))


@pytest.fixture
def session(demo: DemoRun) -> Iterator[Session]:
    engine = create_db_engine(f"sqlite:///{demo.workspace / 'deshi.db'}")
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


def test_items_fall_in_three_distinct_past_iso_weeks(demo: DemoRun, session: Session) -> None:
    live = select(Item.created_at).where(Item.origin == "live")
    created = list(session.scalars(live))
    weeks = {"{}-W{:02d}".format(*moment.isocalendar()[:2]) for moment in created}
    assert len(created) == 180
    assert sorted(weeks) == demo.summary["weeks"]
    assert max(created) <= datetime.now(UTC)


def test_the_history_is_dated_before_the_first_week(demo: DemoRun, session: Session) -> None:
    past = list(session.scalars(select(Item.created_at).where(Item.origin == "history")))
    first_live = min(session.scalars(select(Item.created_at).where(Item.origin == "live")))
    assert len(past) == 600 and max(past) < first_live


def test_reviews_carry_handling_seconds_in_the_past(session: Session) -> None:
    reviews = list(session.scalars(select(Review)))
    assert reviews
    assert all(r.seconds is not None and r.seconds > 0 for r in reviews)
    assert all(r.created_at <= datetime.now(UTC) for r in reviews)
    assert any(r.blind for r in reviews) and any(not r.blind for r in reviews)


def test_models_were_trained(session: Session) -> None:
    count = session.scalar(select(func.count()).select_from(ModelVersion))
    assert count is not None and count >= 1


def test_audit_chain_verifies(session: Session) -> None:
    result = verify_chain(session)
    assert result.ok, result.reason
    assert result.checked > 0


def test_last_items_are_left_in_the_queue(demo: DemoRun) -> None:
    items = demo.summary["items"]
    assert items["queued"] == 30
    assert items["total"] == 180  # live items only: the history is counted apart
    assert demo.summary["history_items"] == 600
    assert "Imported 600 items of the team's history first." in demo.result.output


def test_imported_history_gives_automation_from_the_first_week(tmp_path: Path) -> None:
    """Warm start: 4,600 items of the team's past work certify a threshold before week 1."""
    out = tmp_path / "summary.json"
    result = _run(
        tmp_path / "ws", "--weeks", "1", "--items-per-week", "100", "--history", "4600",
        "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["history_items"] == 4600
    assert summary["items"]["auto_completed"] > 0
    assert summary["per_week"][0]["automation"] > 0.2


def test_too_much_history_is_refused_with_the_numbers(tmp_path: Path) -> None:
    result = _run(tmp_path, "--weeks", "12", "--items-per-week", "700", "--history", "5000")
    assert result.exit_code == 1 and "BANKING77 has 13083" in result.output


def test_json_summary_has_the_documented_fields(demo: DemoRun) -> None:
    summary = demo.summary
    for key in (
        "items",
        "automation",
        "auto_error_from_audits",
        "reviews",
        "model_versions",
        "kpis",
        "recommendation",
        "warnings",
        "per_week",
        "login_email",
    ):
        assert key in summary, key
    assert summary["reviews"]["total"] == summary["items"]["completed"]
    assert summary["model_versions"]["count"] >= 1
    assert summary["recommendation"]["action"] in ("scale", "hold", "stop")
    assert summary["kpis"]["items"] == 180
    assert demo.password not in json.dumps(summary)


def test_printed_password_logs_in(demo: DemoRun, session: Session) -> None:
    user = authenticate_password(session, email=demo.summary["login_email"], password=demo.password)
    assert user.email == demo.summary["login_email"]


def test_a_second_run_serves_the_finished_demo_again_without_rebuilding_it(
    demo: DemoRun,
) -> None:
    before = (demo.workspace / "deshi.db").stat().st_mtime_ns
    result = _run(demo.workspace, "--weeks", "1", "--items-per-week", "5")
    assert result.exit_code == 0, result.output
    assert "already holds a finished demo" in result.output and "--fresh" in result.output
    assert f"deshi serve --db sqlite:///{demo.workspace / 'deshi.db'}" in result.output
    assert PASSWORD.search(result.output) is None  # the password was shown once, at build time
    assert (demo.workspace / "deshi.db").stat().st_mtime_ns == before


def test_an_interrupted_build_is_not_served_but_rebuilt_with_fresh(tmp_path: Path) -> None:
    first = _run(tmp_path, "--weeks", "1", "--items-per-week", "5")
    assert first.exit_code == 0, first.output
    marker = tmp_path / ".deshi-demo"
    marker.write_text('{"created_by": "deshi demo", "database": "deshi.db"}\n', encoding="utf-8")
    before = (tmp_path / "deshi.db").stat().st_mtime_ns

    refused = _run(tmp_path, "--weeks", "1", "--items-per-week", "5")
    assert refused.exit_code == 1 and "did not finish building" in refused.output
    assert (tmp_path / "deshi.db").stat().st_mtime_ns == before
    rebuilt = _run(tmp_path, "--fresh", "--weeks", "1", "--items-per-week", "5")
    assert rebuilt.exit_code == 0 and PASSWORD.search(rebuilt.output), rebuilt.output


def test_a_database_not_made_by_the_demo_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "deshi.db").write_bytes(b"precious")
    result = _run(tmp_path, "--fresh", "--weeks", "1", "--items-per-week", "5")
    assert result.exit_code == 1
    assert (tmp_path / "deshi.db").read_bytes() == b"precious"


def test_every_workspace_gets_its_own_password(demo: DemoRun, tmp_path: Path) -> None:
    first = _run(tmp_path, "--fresh", "--weeks", "1", "--items-per-week", "8")
    again = _run(tmp_path, "--fresh", "--weeks", "1", "--items-per-week", "8")
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    passwords = {DemoRun(tmp_path, r, {}).password for r in (first, again)} | {demo.password}
    assert len(passwords) == 3


def test_weeks_end_in_the_current_week() -> None:
    now = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday of 2026-W47
    weeks = demo_weeks(12, now)
    assert [w.key for w in weeks][-2:] == ["2026-W46", "2026-W47"]
    assert len({w.key for w in weeks}) == 12
    assert weeks[-1].end == now
    assert all(b.start - a.start == timedelta(weeks=1) for a, b in itertools.pairwise(weeks))
    times = arrival_times(weeks[-1], 50, random.Random(1))
    assert times == sorted(times) and weeks[-1].start <= times[0] and times[-1] < now


@pytest.mark.parametrize("situation", sorted(MEDIAN_SECONDS))
def test_handling_time_medians_match_the_docs(situation: str) -> None:
    rng = random.Random(7)
    median = statistics.median(handling_seconds(situation, rng) for _ in range(4000))
    assert median == pytest.approx(MEDIAN_SECONDS[situation], rel=0.05)


def test_the_demo_department_drafts_replies_from_its_policy_pages(session: Session) -> None:
    documents = session.scalars(select(KnowledgeDocument.name)).all()
    assert sorted(documents) == [
        "cards.md",
        "exchange-rates.md",
        "fees-and-refunds.md",
        "identity.md",
        "lost-and-stolen.md",
        "top-ups-and-transfers.md",
    ]
    process = session.scalars(select(Process)).one()
    ask = DraftRequest(department_id=process.department_id, message="My new card has not arrived")
    draft = draft_reply(
        session, actor="test", request=ask, drafter=ExtractiveDrafter(), index=KnowledgeIndex()
    )
    assert "[1]" in draft.text and draft.faithfulness == 1.0
    assert any(c.cited and c.document == "cards.md" for c in draft.citations)
