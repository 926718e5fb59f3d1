"""Entry point of the `deshi` command; each command lives in its own module under deshi.cli."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

# commands that run until stopped, whose memory must not creep (docs/service.md, "Memory")
LONG_RUNNING_COMMANDS = frozenset({"serve"})

app = typer.Typer(
    name="deshi",
    help="deshi (弟子): learning agents for back-office work, within an error budget you set.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    """Attach every command module; each exposes `register(app)`."""
    from deshi.cli import (
        admin,
        audit,
        backtest,
        backup,
        demo,
        department,
        draft,
        drafts,
        history,
        inventory,
        item,
        knowledge,
        kpis,
        llm,
        model,
        process,
        role,
        serve,
        token,
        user,
        webhook,
        worker,
    )

    backtest.register(app)
    admin.register(app)
    audit.register(app)
    backup.register(app)
    serve.register(app)
    model.register(app)
    worker.register(app)
    kpis.register(app)
    demo.register(app)
    draft.register(app)
    drafts.register(app)
    llm.register(app)
    inventory.register(app)
    history.register(app)
    knowledge.register(app)
    item.register(app)
    for group in (department, user, role, token, process, webhook):
        group.register(app)


_register()


def main() -> None:
    """The `deshi` command. A long-running one first starts itself again, once, with Python's
    small objects from the C library's heap, which the server trims every minute
    (`deshi.engine.heap.small_objects_from_c_library`); execve keeps the process id."""
    if command_of(sys.argv) in LONG_RUNNING_COMMANDS:
        from deshi.engine.heap import small_objects_from_c_library  # the engine: only to serve

        environ = small_objects_from_c_library(os.environ)
        if environ is not None:
            os.execve(sys.executable, sys.orig_argv, environ)
    app()


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named on a `deshi` command line (its first word not an option), if any."""
    return next((word for word in argv[1:] if not word.startswith("-")), None)
