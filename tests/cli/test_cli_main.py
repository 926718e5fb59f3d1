"""The `deshi` entry point: which command a command line names (a long-running one starts itself
again with the C library's allocator; tests/api/test_serve_operations.py runs it)."""

from __future__ import annotations

import pytest

from deshi.cli.main import command_of


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["deshi", "serve", "--port", "8001"], "serve"),
        (["deshi", "--help"], None),
        (["deshi"], None),
        (["deshi", "process", "list"], "process"),
    ],
)
def test_the_command_is_the_first_word_that_is_not_an_option(
    argv: list[str], command: str | None
) -> None:
    assert command_of(argv) == command
