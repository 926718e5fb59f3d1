"""A database that cannot answer is one line and exit 1 for a CLI command, not a traceback:
an operator's script reads the reason, and a retry may succeed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from deshi.cli.main import app
from deshi.db import create_db_engine
from deshi.db.migrate import upgrade_to_head

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"


def test_an_unreachable_database_is_one_line() -> None:
    result = CliRunner().invoke(app, ["department", "list", "--db", UNREACHABLE])

    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: the database is not available right now; try again")
    assert "Traceback" not in result.output


def test_a_locked_database_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deshi.db"
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # no reader, no writer until it ends
    try:
        result = CliRunner().invoke(
            app,
            ["department", "create", "Claims", "--db", url],
            env={"DESHI_SQLITE_BUSY_TIMEOUT_MS": "50"},
        )
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: the database is not available right now; try again shortly (database is locked)"
    ]
