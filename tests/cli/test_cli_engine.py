"""Every command that opens the database builds its engine from the settings, so a database
setting such as DESHI_SQL_ECHO reaches all of them (`deshi.db.engine_from_settings`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import Connection, Engine, event
from typer.testing import CliRunner

from deshi.cli.main import app
from deshi.db import engine_from_settings
from deshi.settings import Settings
from deshi.web import create_app

# One invocation per command that takes --db; `serve` is create_app's (tested below).
INVOCATIONS = {
    "init": ["init"],
    "worker": ["worker", "--once"],
    "kpis": ["kpis", "--process", "1"],
    "report": ["report", "--process", "1", "--week", "2025-W01"],
    "warnings": ["warnings", "--process", "1"],
    "audit verify": ["audit", "verify"],
    "audit anchor": ["audit", "anchor", "--out", "-"],
    "backup": ["backup", "--out", "{tmp}/backup.deshi"],
    "restore": ["restore", "{tmp}/no-such-backup.deshi"],
    "model list": ["model", "list", "--process", "1"],
    "model rollback": ["model", "rollback", "--process", "1", "--version", "1"],
    "model retrain": ["model", "retrain", "--process", "1"],
    "inventory list": ["inventory", "list", "--department", "1"],
    "department create": ["department", "create", "Finance"],
    "department list": ["department", "list"],
    "department rename": ["department", "rename", "1", "Accounts"],
    "department archive": ["department", "archive", "1"],
    "user create": ["user", "create", "ann@example.com"],
    "user list": ["user", "list"],
    "user update": ["user", "update", "ann@example.com", "--name", "Ann"],
    "user deactivate": ["user", "deactivate", "ann@example.com"],
    "user reset-password": ["user", "reset-password", "ann@example.com"],
    "role grant": ["role", "grant", "ann@example.com", "--role", "reviewer"],
    "role list": ["role", "list"],
    "role revoke": ["role", "revoke", "1"],
    "token issue": ["token", "issue", "ann@example.com", "--name", "crm"],
    "token list": ["token", "list"],
    "token revoke": ["token", "revoke", "1"],
    "process create": ["process", "create", "--department", "1", "--name", "x"],
    "process list": ["process", "list"],
    "process update": ["process", "update", "1", "--mode", "assist"],
    "process archive": ["process", "archive", "1"],
    "process labels": ["process", "labels", "1"],
    "process go-live": ["process", "go-live", "1", "--stored"],
    "inventory add": [
        "inventory", "add", "--department", "1", "--name", "x", "--monthly-volume", "1",
        "--minutes", "1", "--exception-rate", "0", "--measurability", "1", "--hourly-rate", "1",
    ],
    "user reactivate": ["user", "reactivate", "ann@example.com"],
    "audit list": ["audit", "list"],
    "audit export": ["audit", "export", "--out", "{tmp}/audit.jsonl", "--format", "jsonl"],
    "audit verify-export": ["audit", "verify-export", "{tmp}/audit.jsonl"],
    "import": [
        "import", "{tmp}/history.csv", "--process", "1", "--text-col", "text",
        "--label-col", "label",
    ],
    "history show": ["history", "show", "--process", "1"],
    "history audit": ["history", "audit", "--process", "1"],
    "knowledge sync": ["knowledge", "sync", "{tmp}", "--department", "1"],
    "knowledge search": ["knowledge", "search", "cards", "--department", "1"],
    "knowledge list": ["knowledge", "list", "--department", "1"],
    "knowledge remove": ["knowledge", "remove", "x.md", "--department", "1"],
    "knowledge show": ["knowledge", "show", "x.md", "--department", "1"],
    "draft": ["draft", "my card", "--department", "1"],
    "drafts verdict": ["drafts", "verdict", "1", "--accept"],
    "drafts kpis": ["drafts", "kpis", "--process", "1"],
    "drafts autosend-status": ["drafts", "autosend-status", "--process", "1"],
    "item show": ["item", "show", "1"],
    "webhook add": ["webhook", "add", "https://example.com/hook", "--process", "1"],
    "webhook list": ["webhook", "list", "--process", "1"],
    "webhook remove": ["webhook", "remove", "1", "--process", "1"],
}  # fmt: skip


# What a command needs before it reaches the database (run before the echo is switched on).
SETUP = {"audit verify-export": ["audit", "export", "--out", "{tmp}/audit.jsonl"]}
FILES = {"import": ("history.csv", "text,label\nwhere is my card,card\nrefund please,refund\n")}


def _commands_with_db() -> set[str]:
    root = typer.main.get_command(app)
    found: set[str] = set()

    def walk(command: Any, path: list[str]) -> None:  # Typer vendors its own Click
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        elif any(param.name == "db" for param in command.params):
            found.add(" ".join(path))

    walk(root, [])
    return found


@pytest.fixture
def echoed_engines() -> Iterator[list[bool]]:
    """The `echo` flag of every engine that opens a connection meanwhile."""
    seen: list[bool] = []
    here = threading.get_ident()

    def on_connect(connection: Connection) -> None:
        # Only this thread's: a worker thread another test left polling has its own engine.
        if threading.get_ident() == here:
            seen.append(bool(connection.engine.echo))

    # A handler of our own keeps SQLAlchemy from adding one bound to the runner's stdout.
    quiet = logging.NullHandler()
    logging.getLogger("sqlalchemy.engine.Engine").addHandler(quiet)
    event.listen(Engine, "engine_connect", on_connect)
    yield seen
    event.remove(Engine, "engine_connect", on_connect)
    logging.getLogger("sqlalchemy.engine.Engine").removeHandler(quiet)


def test_every_database_command_is_checked_below() -> None:
    assert _commands_with_db() - {"serve"} == set(INVOCATIONS)


@pytest.mark.parametrize("command", sorted(INVOCATIONS))
def test_sql_echo_reaches_the_commands_engine(
    db_url: str,
    command: str,
    echoed_engines: list[bool],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", db_url]).exit_code == 0
    if command in FILES:
        name, content = FILES[command]
        (tmp_path / name).write_text(content, encoding="utf-8")
    if command in SETUP:
        setup = [arg.replace("{tmp}", str(tmp_path)) for arg in SETUP[command]]
        assert runner.invoke(app, [*setup, "--db", db_url]).exit_code == 0
    echoed_engines.clear()
    monkeypatch.setenv("DESHI_SQL_ECHO", "true")

    # Files go to the test's own folder: as root, writing "to /dev/null" replaces the device.
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in INVOCATIONS[command]]
    runner.invoke(app, [*args, "--db", db_url])  # may fail: no such process

    assert echoed_engines and all(echoed_engines)


def test_the_app_and_the_builder_follow_the_settings() -> None:
    settings = Settings(database_url="sqlite://", sql_echo=True, training_threads=3)
    engine = engine_from_settings(settings)
    assert engine.echo is True
    engine.dispose()
    app_ = create_app(settings)
    assert app_.state.engine.echo is True
    assert app_.state.registry.training_threads == 3
    app_.state.engine.dispose()
