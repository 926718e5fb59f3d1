"""Entry point of the `deshi` command; each command lives in its own module under deshi.cli."""

from __future__ import annotations

import typer

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
        inventory,
        kpis,
        model,
        process,
        role,
        serve,
        token,
        user,
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
    inventory.register(app)
    for group in (department, user, role, token, process):
        group.register(app)


_register()
