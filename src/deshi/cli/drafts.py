"""`deshi drafts verdict | kpis | autosend-status`: the reviewer's verdict on a stored draft, a
process's drafting KPIs, and whether its drafts are sent without review (the same as `POST
/drafts/{id}/verdict`, `GET /processes/{id}/drafting` and `GET /processes/{id}/draft-autosend`).

Like the other administration commands these act as the workspace operator (no role is
checked; the audit log names them `cli:<os user>`)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import typer
from rich.console import Console
from rich.table import Table

from deshi.cli._db import cli_session
from deshi.cli._operator import DB_HELP, JSON_HELP, dumped, emit, operator_actor, options_as
from deshi.drafting.autosend_state import autosend_status
from deshi.drafting.models import DraftVerdictCreate
from deshi.drafting.verdicts import judge_draft
from deshi.i18n import DEFAULT_LOCALE, format_number, format_percent, parse_locale, translations
from deshi.inputs import MAX_ID
from deshi.kpis.context import get_process, parse_arm
from deshi.kpis.drafting import DraftingKpis, DraftingReport
from deshi.kpis.drafting_agreement import Consistency, ParaphraseConsistency
from deshi.kpis.drafting_report import process_drafting_report
from deshi.kpis.models import Metric

__all__ = ["drafts_app", "register"]

drafts_app = typer.Typer(
    help="Stored drafts: give a verdict, read the drafting KPIs.", no_args_is_help=True
)


@drafts_app.command("verdict")
def verdict(
    draft_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The stored draft's id."),
    accept: bool = typer.Option(False, "--accept", help="Accept the draft as is."),
    reject: bool = typer.Option(False, "--reject", help="Reject the draft."),
    edit: str | None = typer.Option(None, "--edit", help="Keep this text in place of the draft."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Record the verdict on a draft: exactly one of --accept, --edit TEXT, --reject."""
    chosen = [name for name, on in (("accept", accept), ("reject", reject)) if on]
    chosen += ["edit"] if edit is not None else []
    if len(chosen) != 1:
        typer.echo("Error: give exactly one of --accept, --edit TEXT, --reject", err=True)
        raise typer.Exit(1)
    body = options_as(DraftVerdictCreate, {"verdict": chosen[0], "text": edit})
    with cli_session(db) as session:
        judged = judge_draft(session, actor=operator_actor(), draft_id=draft_id, body=body)
    if as_json:
        emit(dumped(judged))
        return
    distance = (
        "" if judged.edit_distance is None else f" (edit distance {judged.edit_distance:.0%})"
    )
    typer.echo(f"Draft {judged.id}: {judged.verdict.value}{distance}")


def _cell(value: Metric | None, locale: str) -> str:
    if value is None:
        return "-"
    share = partial(format_percent, locale=locale, digits=1)
    return f"{share(value.value)} [{share(value.low)}, {share(value.high)}]"


def _consistency_cell(found: Consistency | ParaphraseConsistency, locale: str) -> str:
    """A consistency rate and its pairs; "n/a" when no question was drafted twice."""
    if found.rate is None:
        return translations(locale).gettext("n/a")
    pairs = format_number(found.pairs, locale=locale)
    return f"{_cell(found.rate, locale)} · n={pairs}"


def _row(period: str, k: DraftingKpis, locale: str) -> list[str]:
    whole = partial(format_number, locale=locale)
    return [
        period,
        whole(k.drafts),
        whole(k.judged),
        _cell(k.faithfulness, locale),
        _cell(k.unsupported_claims, locale),
        _cell(k.reviewer_changes, locale),
        _cell(k.acceptance, locale),
        _cell(k.edit_distance, locale),
        _cell(k.guardrails.fired, locale),
        _consistency_cell(k.consistency, locale),
        _consistency_cell(k.paraphrase_consistency, locale),
        _cell(k.checker.precision, locale),
        _cell(k.checker.recall, locale),
    ]


def _table(found: DraftingReport, locale: str) -> Table:
    gettext = translations(locale).gettext
    table = Table(
        gettext("week"),
        gettext("drafts"),
        gettext("judged"),
        gettext("Draft faithfulness"),
        gettext("Drafts with an unsupported claim"),
        gettext("Drafts rejected or edited"),
        gettext("Drafts accepted"),
        gettext("Draft edit distance"),
        gettext("Draft guardrails"),
        gettext("Consistent answers"),
        gettext("Consistent answers, paraphrases included"),
        gettext("Checker precision"),
        gettext("Checker recall"),
        title=gettext("Drafted replies") + f" · {found.process_id}",
    )
    for week in found.weeks:
        table.add_row(*_row(week.week, week, locale))
    table.add_row(*_row(gettext("overall"), found.overall, locale), style="bold")
    return table


@drafts_app.command("kpis")
def kpis(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help="Process id."),
    start: datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"], help="First day."),
    end: datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"], help="Last day."),
    arm: str | None = typer.Option(None, "--arm", help="human_only, assisted or ai_led."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
    lang: str = typer.Option(DEFAULT_LOCALE, "--lang", help="en or ja (text output only)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Show a process's drafting KPIs per ISO week and overall, with their intervals."""
    with cli_session(db) as session:
        locale = parse_locale(lang)
        found = process_drafting_report(
            session,
            get_process(session, process_id),
            start=start.date() if start else None,
            end=end.date() if end else None,
            arm=parse_arm(arm),
        )
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
        return
    if not found.overall.drafts:
        typer.echo(translations(locale).gettext("No drafts yet."))
        return
    Console().print(_table(found, locale))
    typer.echo(_paraphrase_line(found.overall, locale))
    typer.echo(_checker_line(found.overall, locale))


def _paraphrase_line(k: DraftingKpis, locale: str) -> str:
    """What pairs drafts as paraphrases, and how many of the overall pairs are exact repeats."""
    p, whole = k.paraphrase_consistency, partial(format_number, locale=locale)
    return translations(locale).gettext(
        "Paraphrases: messages whose embeddings are at least %(threshold)s alike; "
        "%(pairs)s pairs, %(repeats)s of them exact repeats"
    ) % {
        "threshold": format_number(p.threshold, locale=locale, digits=2),
        "pairs": whole(p.pairs),
        "repeats": whole(p.exact_repeats),
    }


def _checker_line(k: DraftingKpis, locale: str) -> str:
    """The overall 2 x 2 of the checker's flag and the reviewers' verdicts, as counts."""
    c, whole = k.checker, partial(format_number, locale=locale)
    return translations(locale).gettext(
        "Checker flag vs reviewers: flagged and edited or rejected %(tp)s, flagged yet "
        "accepted %(fp)s, not flagged yet edited or rejected %(fn)s, not flagged and "
        "accepted %(tn)s"
    ) % {
        "tp": whole(c.flagged_changed),
        "fp": whole(c.flagged_accepted),
        "fn": whole(c.unflagged_changed),
        "tn": whole(c.unflagged_accepted),
    }


_STATE_NAMES = {
    "off": "off: drafts are suggestions only",
    "not_certified": "not certified: too little evidence, nothing is sent",
    "paused": "paused by the blind audit",
    "sending": "sending",
}


@drafts_app.command("autosend-status")
def autosend_status_command(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help="Process id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    lang: str = typer.Option(DEFAULT_LOCALE, "--lang", help="en or ja (text output only)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Show whether a process's drafts are sent without review: the setting, the certified
    draft threshold, the blind audit of drafts and what was sent or held."""
    with cli_session(db) as session:
        found = autosend_status(session, get_process(session, process_id))
    if as_json:
        emit(dumped(found))
        return
    locale = parse_locale(lang)
    gettext = translations(locale).gettext
    whole = partial(format_number, locale=locale)
    threshold = "-" if found.threshold is None else f"{found.threshold:.3f}"
    lines = [
        f"{gettext('State')}: {gettext(_STATE_NAMES[found.state])}",
        f"{gettext('Certified draft threshold')}: {threshold}",
        f"{gettext('Judged drafts')}: {whole(found.judged)} "
        f"({gettext('at least %(n)s needed') % {'n': whole(found.needed)}})",
        f"{gettext('Blind audit of drafts')}: "
        + gettext("%(errors)s of %(audited)s changed by the reviewer")
        % {"errors": whole(found.audit_errors), "audited": whole(found.audited)},
        f"{gettext('Sent without review')}: {whole(found.sent)}",
    ]
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    """Attach `deshi drafts` to the main app."""
    app.add_typer(drafts_app, name="drafts")
