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
