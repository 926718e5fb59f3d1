"""README's command table cannot drift from the CLI: every command in it exists, every option it
names is in that command's `--help`, every command of the CLI has a row, and every command but
`backtest`, `demo` and `llm prepare` takes `--db`, as the README says under the table.

A row's first cell is the command as typed, e.g. `deshi model rollback --process ID --version N`;
`add\\|list` names two subcommands that share the row. Every `--option` in the row's code spans
(the first cell and any in the description) must belong to the row's command.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from deshi.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
WORD = re.compile(r"[a-z][a-z-]*(\|[a-z][a-z-]*)*")


def command_rows() -> list[tuple[str, list[str]]]:
    """(first cell, code spans) of each row of README's "Commands" table."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Commands\n") :]
    section = section[: section.find("\n## ", 1)]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `deshi"):
            continue
        spans = re.findall(r"`([^`]+)`", line.replace("\\|", "|"))
        rows.append((spans[0], spans))
    return rows


def command_paths(cell: str) -> list[list[str]]:
    """The command paths a first cell names: `deshi inventory add|list …` → two paths."""
    words = cell.split()
    assert words[0] == "deshi", cell
    paths: list[list[str]] = [[]]
    for word in words[1:]:
        if not WORD.fullmatch(word):
            break
        paths = [[*path, name] for path in paths for name in word.split("|")]
    return paths


def help_text(path: list[str]) -> str:
    """`deshi PATH --help`, failing the test when the command does not exist."""
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, f"deshi {' '.join(path)} --help: {result.output}"
    return ANSI.sub("", result.output)


def cli_commands(command: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every runnable command of the CLI (a group's `commands`, recursively), as its path."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        return {path}
    return {
        found
        for name, sub in subcommands.items()
        if not sub.hidden
        for found in cli_commands(sub, (*path, name))
    }


ROWS = command_rows()


def test_the_readme_has_a_command_table() -> None:
    assert len(ROWS) >= 10


@pytest.mark.parametrize(("cell", "spans"), ROWS, ids=[cell for cell, _ in ROWS])
def test_each_command_in_the_table_exists_with_the_options_it_names(
    cell: str, spans: list[str]
) -> None:
    named = {option for span in spans for option in OPTION.findall(span)}
    for path in command_paths(cell):
        shown = set(OPTION.findall(help_text(path)))
        missing = named - shown
        assert not missing, f"deshi {' '.join(path)} has no {sorted(missing)}"


def test_every_cli_command_has_a_row() -> None:
    documented = {tuple(path) for cell, _ in ROWS for path in command_paths(cell)}
    assert cli_commands(typer.main.get_command(app)) <= documented


def test_every_command_but_backtest_demo_and_llm_takes_a_database_url() -> None:
    for path in sorted(cli_commands(typer.main.get_command(app))):
        if path[0] not in {"backtest", "demo", "llm"}:
            assert "--db" in OPTION.findall(help_text(list(path))), path
