"""`deshi webhook add | list | remove`: where a process's item events are delivered."""

from __future__ import annotations

import typer

from deshi.cli._db import cli_session, cli_settings
from deshi.cli._operator import (
    DB_HELP,
    JSON_HELP,
    dumped,
    emit,
    operator_actor,
    options_as,
    print_table,
    when,
)
from deshi.inputs import MAX_ID
from deshi.webhooks import service
from deshi.webhooks.models import WebhookCreate
from deshi.webhooks.outbound import OutboundPolicy

__all__ = ["register", "webhook_app"]

webhook_app = typer.Typer(
    help="Webhooks: add one (its signing secret is shown once), list, remove.",
    no_args_is_help=True,
)
PROCESS_HELP = "Process id."
EVENT_HELP = (
    "An event to deliver (item.decided, item.completed, process.drift, draft.sent); repeat it; "
    "none: all."
)


@webhook_app.command("add")
def add(
    url: str = typer.Argument(..., help="Where deliveries are POSTed (http or https)."),
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help=PROCESS_HELP),
    events: list[str] = typer.Option([], "--event", help=EVENT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Register a webhook; its URL must resolve to public addresses unless
    DESHI_WEBHOOK_ALLOW_HOSTS lists it (audited; the secret is printed once)."""
    data = options_as(WebhookCreate, {"url": url, "events": events})
    outbound = OutboundPolicy.from_settings(cli_settings(db))
    with cli_session(db) as session:
        created = service.register_webhook(
            session, actor=operator_actor(), process_id=process_id, data=data, outbound=outbound
        )
    if as_json:
        emit(dumped(created))
        return
    typer.echo(f"Webhook {created.id} delivers {', '.join(created.events) or 'every event'}.")
    typer.echo(f"Signing secret (shown once, store it now): {created.secret}")


@webhook_app.command("list")
def list_webhooks(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help=PROCESS_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List the process's active webhooks (never their secrets)."""
    with cli_session(db) as session:
        hooks = service.active_webhooks(session, process_id=process_id)
    if as_json:
        emit({"webhooks": [dumped(h) for h in hooks]})
        return
    rows = [[str(h.id), h.url, ", ".join(h.events) or "all", when(h.created_at)] for h in hooks]
    print_table(["id", "url", "events", "created"], rows, "No webhooks.")


@webhook_app.command("remove")
def remove(
    webhook_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Webhook id (see `list`)."),
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help=PROCESS_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Remove a webhook: nothing more is sent to it; its delivery history stays (audited)."""
    with cli_session(db) as session:
        service.deactivate_webhook(
            session, actor=operator_actor(), process_id=process_id, webhook_id=webhook_id
        )
    if as_json:
        emit({"id": webhook_id, "removed": True})
    else:
        typer.echo(f"Webhook {webhook_id} removed.")


def register(app: typer.Typer) -> None:
    """Attach the `webhook` group to the main app."""
    app.add_typer(webhook_app, name="webhook")
