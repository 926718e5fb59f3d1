"""`deshi draft MESSAGE --department ID`: a reply drafted from a department's knowledge base,
with its citations and the check of every sentence (the same as `POST /knowledge/draft`); the
draft is stored, for `deshi drafts verdict`.

With `DESHI_LLM_BASE_URL` set, the configured chat model drafts it (personal data replaced by
placeholders before anything is sent; the call is audited as `cli:<os user>`); otherwise the
draft is extractive."""

from __future__ import annotations

import typer

from deshi.cli._db import cli_session, cli_settings
from deshi.cli._operator import DB_HELP, JSON_HELP, dumped, emit, operator_actor, options_as
from deshi.drafting.models import DraftRequest
from deshi.drafting.service import draft_reply, make_drafter
from deshi.inputs import MAX_ID
from deshi.knowledge import KnowledgeIndex

__all__ = ["register"]


def draft(
    message: str = typer.Argument(..., help="The message to answer."),
    department_id: int = typer.Option(
        ..., "--department", min=1, max=MAX_ID, help="Whose knowledge base to draft from."
    ),
    top: int = typer.Option(4, "--top", min=1, max=10, help="Passages given to the drafter."),
    item_id: int | None = typer.Option(
        None,
        "--item",
        min=1,
        max=MAX_ID,
        help="The item it answers: stored against it, with its process's past answers as examples.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Draft a reply from the department's documents, citing them as [n]."""
    request = options_as(
        DraftRequest,
        {"department_id": department_id, "message": message, "top_k": top, "item_id": item_id},
    )
    drafter = make_drafter(cli_settings(db))
    with cli_session(db) as session:
        result = draft_reply(
            session,
            actor=operator_actor(),
            request=request,
            drafter=drafter,
            index=KnowledgeIndex(),
        )
    if as_json:
        emit(dumped(result))
        return
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


def register(app: typer.Typer) -> None:
    """Attach `deshi draft` to the main app."""
    app.command("draft")(draft)
