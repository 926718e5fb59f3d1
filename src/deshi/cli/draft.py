"""`deshi draft MESSAGE --department ID`: a reply drafted from a department's knowledge base,
with its citations and the check of every sentence (the same as `POST /knowledge/draft`); the
draft is stored, for `deshi drafts verdict`. `deshi draft --item ID` drafts the item's reply
from its own text and department, as the workbench's `d` does; `deshi draft --item ID --field
NAME` fills one of its process's drafting fields instead (the value alone, cited).

With `DESHI_LLM_BASE_URL` set, the configured chat model drafts it (personal data replaced by
placeholders before anything is sent; the call is audited as `cli:<os user>`); otherwise the
draft is extractive."""

from __future__ import annotations

import typer

from deshi.cli._db import cli_factory, cli_session, cli_settings
from deshi.cli._operator import (
    DB_HELP,
    JSON_HELP,
    dumped,
    emit,
    operator_actor,
    operator_principal,
    options_as,
)
from deshi.drafting.models import MAX_MESSAGE_CHARS, DraftRequest
from deshi.drafting.service import draft_reply_in_steps, make_drafter
from deshi.inputs import MAX_ID
from deshi.items.service import load_item_for
from deshi.knowledge import KnowledgeIndex
from deshi.permissions import Action

__all__ = ["register"]


def draft(
    message: str | None = typer.Argument(
        None, help="The message to answer (with --item, default: the item's text)."
    ),
    department_id: int | None = typer.Option(
        None,
        "--department",
        min=1,
        max=MAX_ID,
        help="Whose knowledge base to draft from (with --item, default: the item's department).",
    ),
    top: int = typer.Option(4, "--top", min=1, max=10, help="Passages given to the drafter."),
    item_id: int | None = typer.Option(
        None,
        "--item",
        min=1,
        max=MAX_ID,
        help="The item it answers: stored against it, with its process's past answers as examples.",
    ),
    field: str | None = typer.Option(
        None,
        "--field",
        help="With --item: fill this drafting field of its process instead of a reply "
        "(deshi process update --draft-field NAME=instruction).",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Draft a reply (or a field's value) from the department's documents, citing them as
    \\[n]."""
    if item_id is not None and (message is None or department_id is None):
        text, department = _item_text_and_department(db, item_id)
        message = text if message is None else message
        department_id = department if department_id is None else department_id
    if message is None or department_id is None:
        typer.echo("Error: give MESSAGE and --department ID, or --item ID", err=True)
        raise typer.Exit(2)
    request = options_as(
        DraftRequest,
        {
            "department_id": department_id,
            "message": message,
            "top_k": top,
            "item_id": item_id,
            "field": field,
        },
    )
    drafter = make_drafter(cli_settings(db))
    # No transaction stays open while the model drafts: a server's writers keep going.
    with cli_factory(db) as factory:
        result = draft_reply_in_steps(
            factory,
            actor=operator_actor(),
            request=request,
            drafter=drafter,
            index=KnowledgeIndex(),
        )
    if as_json:
        emit(dumped(result))
        return
    if result.field is not None:
        typer.echo(f"{result.field}:")
    typer.echo(result.text)
    typer.echo("")
    for citation in result.citations:
        if citation.cited:
            where = f", p. {citation.page}" if citation.page else ""
            typer.echo(f"[{citation.number}] {citation.document}{where}: {citation.url}")
    unsupported = [s.sentence for s in result.sentences if not s.supported]
    typer.echo(f"Faithfulness: {result.faithfulness:.0%} ({result.drafter} draft)")
    for sentence in unsupported:
        typer.echo(f"  not supported by what it cites: {sentence}")
    for note in result.notes:
        typer.echo(f"Note: {note}")
    typer.echo(
        f"Draft {result.id} stored: deshi drafts verdict {result.id} --accept|--edit|--reject"
    )


def _item_text_and_department(db: str | None, item_id: int) -> tuple[str, int]:
    """The item's text, as the workbench drafts from it, and its process's department."""
    with cli_session(db, lock_early=False) as session:
        item, process = load_item_for(
            session, principal=operator_principal(), item_id=item_id, action=Action.READ
        )
        return item.text[:MAX_MESSAGE_CHARS], process.department_id


def register(app: typer.Typer) -> None:
    """Attach `deshi draft` to the main app."""
    app.command("draft")(draft)
