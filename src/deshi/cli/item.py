"""`deshi item show ID`: one item with its lineage, the same as `GET /items/{id}` (decision,
similar cases, evidence passages, reviews) and `GET /items/{id}/drafts`.

The evidence passages are found on the item's first view, by the service the API calls, and
kept; the command acts as the workspace operator (a workspace-wide admin: it sees every
department, blind decisions included, as an admin does on the API)."""

from __future__ import annotations

from collections.abc import Callable

import typer

from deshi.cli._db import cli_session
from deshi.cli._operator import DB_HELP, dumped, emit, operator_principal
from deshi.drafting.stored import StoredDraftPublic, item_drafts_for
from deshi.i18n import DEFAULT_LOCALE, format_number, format_percent, parse_locale, translations
from deshi.inputs import MAX_ID
from deshi.items.models import DecisionPublic, EvidencePassagePublic, ItemPublic
from deshi.items.reasons import route_reason
from deshi.items.service import get_item
from deshi.knowledge import KnowledgeIndex

__all__ = ["item_app", "register"]

Say = Callable[[str], str]

item_app = typer.Typer(help="Items: show one with its lineage.", no_args_is_help=True)


@item_app.command("show")
def show(
    item_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The item's id."),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object: GET /items/{id}, with its `drafts`."
    ),
    lang: str = typer.Option(DEFAULT_LOCALE, "--lang", help="en or ja (text output only)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Show an item: its decision, similar cases, evidence passages, reviews and drafts."""
    locale = parse_locale(lang)
    with cli_session(db) as session:
        principal = operator_principal()
        item = get_item(session, principal=principal, item_id=item_id, index=KnowledgeIndex())
        drafts = item_drafts_for(session, principal=principal, item_id=item_id)
    if as_json:
        emit({**dumped(item), "drafts": [dumped(draft) for draft in drafts]})
        return
    for line in item_lines(item, drafts, locale):
        typer.echo(line)


def item_lines(item: ItemPublic, drafts: list[StoredDraftPublic], locale: str) -> list[str]:
    """The item as text, in `locale`."""
    say = translations(locale).gettext
    head = say("Item %(id)s · process %(process)s · %(status)s") % {
        "id": item.id,
        "process": item.process_id,
        "status": item.status.value,
    }
    lines = [head + (f" · {item.arm}" if item.arm else ""), item.text, ""]
    lines += _decision_lines(item.decision, say, locale)
    lines += _passage_lines(item.evidence_passages, say, locale)
    for review in item.reviews:
        lines.append(
            say("Review: %(action)s → %(label)s")
            % {
                "action": review.action.value,
                "label": review.final_label or "-",
            }
        )
    lines += _draft_lines(drafts, say, locale)
    return lines


def _decision_lines(decision: DecisionPublic | None, say: Say, locale: str) -> list[str]:
    if decision is None:
        return [say("No decision shown (none yet, or hidden while a blind review is open).")]
    reason = route_reason(
        decision.reason_code, decision.reason_params, locale=locale, stored=decision.reason
    )
    lines = [
        say("Decision: %(label)s · confidence %(confidence)s · %(route)s")
        % {
            "label": decision.label or "-",
            "confidence": format_percent(decision.confidence, locale=locale),
            "route": decision.route.value,
        },
        say("Reason: %(reason)s") % {"reason": reason},
    ]
    if decision.evidence:
        lines.append(say("Similar cases:"))
    for case in decision.evidence:
        similarity = format_number(case.similarity, locale=locale, digits=2)
        lines.append(f"  {similarity}  {case.label}  {_one_line(case.text)}")
    return lines


def _passage_lines(
    passages: list[EvidencePassagePublic] | None, say: Say, locale: str
) -> list[str]:
    if not passages:
        return [say("Evidence passages: none found.")]
    lines = [say("Evidence passages:")]
    for number, hit in enumerate(passages, start=1):
        where = [say("version %(version)s") % {"version": hit.version}]
        where += [say("page %(page)s") % {"page": hit.page}] if hit.page else []
        where += [hit.section] if hit.section else []
        score = format_number(hit.score, locale=locale, digits=3)
        lines.append(f"  [{number}] {hit.document} ({', '.join(where)}) · {score}")
        lines.append(f"      {_one_line(hit.excerpt)}")
    return lines


def _draft_lines(drafts: list[StoredDraftPublic], say: Say, locale: str) -> list[str]:
    lines = []
    for draft in drafts:
        verdict = draft.verdict.value if draft.verdict else say("not judged")
        lines.append(
            say("Draft %(id)s (%(drafter)s): faithfulness %(faithfulness)s · %(verdict)s")
            % {
                "id": draft.id,
                "drafter": draft.drafter,
                "faithfulness": format_percent(draft.faithfulness, locale=locale),
                "verdict": verdict,
            }
        )
        field = f"{draft.field}: " if draft.field else ""  # a filled field, not a reply
        lines.append(f"  {field}{_one_line(draft.text)}")
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.split())


def register(app: typer.Typer) -> None:
    """Attach `deshi item` to the main app."""
    app.add_typer(item_app, name="item")
