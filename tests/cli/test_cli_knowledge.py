"""`deshi knowledge` as scripts use it: `sync DIR --department ID` stores a folder and re-runs
touch changed files only; `search QUERY --department ID --top K --json` prints a JSON list, best
first, of objects with `document` (the file name), `passage` and `score`; list, show (open a
document) and remove."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli.main import app
from deshi.db import transaction
from deshi.db.tables import AuditEvent
from deshi.processes.service import create_department


@pytest.fixture
def department(session_factory: sessionmaker[Session]) -> int:
    with transaction(session_factory) as session:
        return create_department(session, actor="test", name="Support").id


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\nRefunds are paid within 14 days.\n")
    (docs / "カード.txt").write_text("カードを紛失したら、すぐに利用を停止してください。")
    (docs / "logo.png").write_bytes(b"\x89PNG")
    return docs


def _run(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_sync_then_search_keeps_the_scripts_contract(
    db_url: str, department: int, folder: Path, session_factory: sessionmaker[Session]
) -> None:
    dep = str(department)
    first = _run("knowledge", "sync", str(folder), "--department", dep, "--json", "--db", db_url)
    assert first["created"] == ["refunds.md", "カード.txt"] and first["skipped"] == ["logo.png"]
    (folder / "refunds.md").write_text("# Refunds\nRefunds are paid within 30 days.\n")
    again = _run("knowledge", "sync", str(folder), "--department", dep, "--json", "--db", db_url)
    assert (again["updated"], again["unchanged"]) == (["refunds.md"], ["カード.txt"])

    hits = _run(
        "knowledge", "search", "カードをなくした", "--department", dep, "--top", "2", "--json",
        "--db", db_url,
    )  # fmt: skip
    assert isinstance(hits, list) and len(hits) == 2
    assert hits[0]["document"] == "カード.txt"
    assert hits[0]["passage"] == "カードを紛失したら、すぐに利用を停止してください。"
    assert hits[0]["score"] >= hits[1]["score"]
    assert {"document", "passage", "score", "version", "section", "page"} <= set(hits[0])

    with transaction(session_factory) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("knowledge.%"))
        ).all()
    assert sorted(actions) == ["knowledge.create", "knowledge.create", "knowledge.update"]


def test_list_and_remove_by_name(db_url: str, department: int, folder: Path) -> None:
    dep = str(department)
    _run("knowledge", "sync", str(folder), "--department", dep, "--json", "--db", db_url)
    removed = _run(
        "knowledge", "remove", "refunds.md", "--department", dep, "--json", "--db", db_url
    )
    assert removed["name"] == "refunds.md" and removed["removed_at"] is not None
    listed = _run("knowledge", "list", "--department", dep, "--json", "--db", db_url)
    assert [d["name"] for d in listed["documents"]] == ["カード.txt"]
    everything = _run("knowledge", "list", "--department", dep, "--all", "--json", "--db", db_url)
    assert len(everything["documents"]) == 2


def test_show_opens_any_version_of_a_document_by_name(
    db_url: str, department: int, folder: Path
) -> None:
    dep = str(department)
    _run("knowledge", "sync", str(folder), "--department", dep, "--json", "--db", db_url)
    (folder / "refunds.md").write_text("# Refunds\nRefunds are paid within 30 days.\n")
    _run("knowledge", "sync", str(folder), "--department", dep, "--json", "--db", db_url)

    current = _run("knowledge", "show", "refunds.md", "--department", dep, "--json", "--db", db_url)
    assert (current["current_version"], current["shown_version"]) == (2, 2)
    assert [v["version"] for v in current["versions"]] == [2, 1]
    [passage] = current["passages"]
    assert passage["text"] == "Refunds are paid within 30 days." and passage["section"] == "Refunds"
    assert passage["url"] == f"/knowledge/docs/{current['id']}?version=2#p-{passage['id']}"
    old = _run(
        "knowledge", "show", "refunds.md", "--department", dep, "--version", "1", "--json",
        "--db", db_url,
    )  # fmt: skip
    assert old["shown_version"] == 1 and not old["passages"][0]["is_current"]
    assert "14 days" in old["passages"][0]["text"]

    text = CliRunner().invoke(
        app, ["knowledge", "show", "refunds.md", "--department", dep, "--db", db_url]
    )
    assert text.exit_code == 0, text.output
    assert "refunds.md" in text.stdout and "version 2 shown, current v2" in text.stdout
    assert f"#{passage['id']} (Refunds)" in text.stdout and "30 days" in text.stdout


def test_an_unknown_department_or_document_is_one_line_and_exit_1(
    db_url: str, department: int
) -> None:
    result = CliRunner().invoke(
        app, ["knowledge", "remove", "nothing.md", "--department", str(department), "--db", db_url]
    )
    assert result.exit_code == 1
    assert "no document 'nothing.md'" in result.output
    result = CliRunner().invoke(
        app, ["knowledge", "show", "nothing.md", "--department", str(department), "--db", db_url]
    )
    assert result.exit_code == 1 and "no document 'nothing.md'" in result.output
    result = CliRunner().invoke(
        app, ["knowledge", "search", "x", "--department", "99", "--json", "--db", db_url]
    )
    assert result.exit_code == 1 and "department 99 not found" in result.output
    result = CliRunner().invoke(app, ["knowledge", "list", "--department", "99", "--db", db_url])
    assert result.exit_code == 1 and "department 99 not found" in result.output


def test_syncing_into_a_department_that_does_not_exist_is_refused(
    db_url: str, department: int, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = str(department + 1)
    result = CliRunner().invoke(
        app, ["knowledge", "sync", str(empty), "--department", missing, "--db", db_url]
    )
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: department {missing} not found"


def test_search_and_list_read_while_a_server_holds_the_write_lock(
    db_url: str, department: int, folder: Path
) -> None:
    """Read-only commands take no write lock: the first search loads the embedder (seconds),
    which must not block the servers' writes, nor wait for them."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    dep = str(department)
    _run("knowledge", "sync", str(folder), "--department", dep, "--json", "--db", db_url)
    writer = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a server's write transaction: readers go on in WAL mode
    try:
        result = CliRunner().invoke(
            app,
            ["knowledge", "search", "refunds", "--department", dep, "--json", "--db", db_url],
            env={"DESHI_SQLITE_BUSY_TIMEOUT_MS": "50"},
        )
        listed = CliRunner().invoke(
            app,
            ["knowledge", "list", "--department", dep, "--json", "--db", db_url],
            env={"DESHI_SQLITE_BUSY_TIMEOUT_MS": "50"},
        )
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["document"] == "refunds.md"
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.stdout)["documents"]) == 2
