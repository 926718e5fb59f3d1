"""`deshi knowledge sync | search | list | show | remove`: a department's knowledge base.

Like the other administration commands these act as the workspace operator (no role is
checked; the audit log names them `cli:<os user>`). `search --json` prints a JSON list (best
first) of objects with at least `document` (the file name), `passage` and `score`: scripts rely
on that shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from deshi.cli._db import cli_factory, cli_session
from deshi.cli._operator import DB_HELP, JSON_HELP, dumped, emit, operator_actor, print_table, when
from deshi.inputs import MAX_ID
from deshi.knowledge import KnowledgeIndex, search
from deshi.knowledge import service as knowledge
from deshi.knowledge.models import MAX_TOP_K, DocumentDetail, DocumentPublic, SearchMode

__all__ = ["knowledge_app", "register"]

knowledge_app = typer.Typer(
    help="A department's knowledge base: sync a folder, search, list, show, remove.",
    no_args_is_help=True,
)

DEPARTMENT_HELP = "The department whose knowledge base this is."


@knowledge_app.command("sync")
def sync(
    directory: Path = typer.Argument(..., help="A folder: each supported file is one document."),
    department_id: int = typer.Option(..., "--department", min=1, max=MAX_ID, help=DEPARTMENT_HELP),
    prune: bool = typer.Option(
        False, "--prune", help="Also remove documents whose file is no longer in the folder."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Store the folder's PDF, DOCX, HTML, Markdown and text files (audited); files whose bytes
    did not change are left as they are."""
    with cli_factory(db) as factory:
        report = knowledge.sync_directory(
            factory,
            actor=operator_actor(),
            department_id=department_id,
            directory=directory,
            prune=prune,
            index=KnowledgeIndex(),
        )
    if as_json:
        emit(
            {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "removed": report.removed,
                "skipped": report.skipped,
            }
        )
        return
    typer.echo(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, "
        f"{len(report.skipped)} skipped (unsupported type)"
    )


@knowledge_app.command("search")
def search_command(
    query: str = typer.Argument(..., help="A question or keywords, in any language."),
    department_id: int = typer.Option(..., "--department", min=1, max=MAX_ID, help=DEPARTMENT_HELP),
    top: int = typer.Option(5, "--top", min=1, max=MAX_TOP_K, help="How many passages."),
    mode: SearchMode = typer.Option(
        SearchMode.HYBRID, "--mode", help="hybrid (default), lexical or vector."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON list of passages, best first (for scripts)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """The department's best passages for the query, with document, version, page/section."""
    # Read only: the first query loads the embedder (seconds), which must not hold SQLite's
    # write lock against the servers.
    with cli_session(db, lock_early=False) as session:
        hits = search(
            session,
            department_id=department_id,
            query=query,
            top_k=top,
            mode=mode,
            index=KnowledgeIndex(),
        )
    if as_json:
        typer.echo(json.dumps([dumped(hit) for hit in hits], ensure_ascii=False))
        return
    if not hits:
        typer.echo("No passage matches.")
    for rank, hit in enumerate(hits, start=1):
        place = f"page {hit.page}" if hit.page is not None else hit.section or "-"
        typer.echo(f"{rank}. {hit.document} v{hit.version} ({place}) score {hit.score:.4f}")
        typer.echo(f"   {hit.passage}")


@knowledge_app.command("list")
def list_command(
    department_id: int = typer.Option(..., "--department", min=1, max=MAX_ID, help=DEPARTMENT_HELP),
    include_removed: bool = typer.Option(False, "--all", help="Include removed documents."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """The department's documents, by name."""
    with cli_session(db, lock_early=False) as session:
        rows = [
            DocumentPublic.model_validate(d)
            for d in knowledge.list_documents(
                session, department_id=department_id, include_removed=include_removed
            )
        ]
    if as_json:
        emit({"documents": [dumped(d) for d in rows]})
        return
    table = [
        [str(d.id), d.name, str(d.current_version), when(d.updated_at), when(d.removed_at)]
        for d in rows
    ]
    print_table(["id", "name", "version", "updated", "removed"], table, "No documents yet.")


@knowledge_app.command("show")
def show(
    name: str = typer.Argument(..., help="The document's name (its file name)."),
    department_id: int = typer.Option(..., "--department", min=1, max=MAX_ID, help=DEPARTMENT_HELP),
    version: int | None = typer.Option(
        None, "--version", min=1, max=MAX_ID, help="Which version (default: the current one)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """A document (removed ones too): its versions and the passages of one version, each with
    its page or section, as the web UI's document page shows them."""
    with cli_session(db, lock_early=False) as session:
        document = knowledge.get_document_by_name(session, department_id=department_id, name=name)
        detail = knowledge.document_detail(session, document, version)
    if as_json:
        emit(dumped(detail))
        return
    typer.echo(_heading(detail))
    for v in detail.versions:
        typer.echo(
            f"  v{v.version} {when(v.created_at)} {v.media_type}, {v.passage_count} passages"
        )
    typer.echo("")
    for passage in detail.passages:
        place = f"page {passage.page}" if passage.page is not None else passage.section
        typer.echo(f"#{passage.id}" + (f" ({place})" if place else ""))
        typer.echo(f"   {passage.text}")


def _heading(detail: DocumentDetail) -> str:
    """The document's name, the version shown and whether it is the current one."""
    state = "removed" if detail.removed_at is not None else f"current v{detail.current_version}"
    return f"{detail.name} (id {detail.id}): version {detail.shown_version} shown, {state}"


@knowledge_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="The document's name (its file name)."),
    department_id: int = typer.Option(..., "--department", min=1, max=MAX_ID, help=DEPARTMENT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Remove a document from lists and search; its versions stay, for lineage (audited)."""
    with cli_session(db) as session:
        document = DocumentPublic.model_validate(
            knowledge.remove_document_by_name(
                session, actor=operator_actor(), department_id=department_id, name=name
            )
        )
    if as_json:
        emit(dumped(document))
    else:
        typer.echo(f"Document {document.name} removed.")


def register(app: typer.Typer) -> None:
    """Attach the `knowledge` group to the main app."""
    app.add_typer(knowledge_app, name="knowledge")
