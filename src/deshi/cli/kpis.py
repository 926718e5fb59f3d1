"""`deshi kpis | report | warnings`: a process's proof of value, read straight from the database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from deshi.cli._db import cli_session
from deshi.i18n import DEFAULT_LOCALE, format_number, format_percent, parse_locale, translations
from deshi.inputs import MAX_ID
from deshi.kpis.context import get_process, parse_arm
from deshi.kpis.explain import arm_name, explain
from deshi.kpis.kpi_report import kpi_report
from deshi.kpis.models import KpiReport, Kpis, Metric, WarningPublic
from deshi.kpis.process_warnings import process_warnings
from deshi.kpis.weekly_report import weekly_report_html

__all__ = ["kpis", "register", "report", "warnings"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."
PROCESS_HELP = "Process id."
LANG_HELP = "Language of the text output (not of --json): en or ja."

Format = Callable[[float], str]


def _cell(value: Metric | None, fmt: Format) -> str:
    if value is None:
        return "-"
    if value.low == value.high:
        return fmt(value.value)
    return f"{fmt(value.value)} [{fmt(value.low)}, {fmt(value.high)}]"


def _row(period: str, kpis: Kpis, locale: str) -> list[str]:
    share = partial(format_percent, locale=locale, digits=1)
    fine_share = partial(format_percent, locale=locale, digits=2)
    whole = partial(format_number, locale=locale)
    tenths = partial(format_number, locale=locale, digits=1)
    return [
        period,
        whole(kpis.items),
        _cell(kpis.model.accuracy, share),
        _cell(kpis.model.auto_error, fine_share),
        _cell(kpis.product.automation, share),
        _cell(kpis.product.acceptance, share),
        _cell(kpis.product.handling_seconds, whole),
        _cell(kpis.business.hours_saved, tenths),
        _cell(kpis.business.net_savings, whole),
        _cell(kpis.flywheel.reviews, whole),
    ]


def _table(found: KpiReport, locale: str) -> Table:
    gettext = translations(locale).gettext
    arm = arm_name(found.arm, locale=locale) if found.arm else gettext("all arms")
    confidence = format_percent(found.confidence, locale=locale, digits=0)
    title = gettext("Process %(process)s, %(arm)s: estimate [%(confidence)s interval]")
    table = Table(
        gettext("week"),
        gettext("items"),
        gettext("accuracy"),
        gettext("auto error"),
        gettext("automation"),
        gettext("acceptance"),
        gettext("handling s"),
        gettext("hours saved"),
        gettext("net (%(currency)s)") % {"currency": found.currency},
        gettext("reviews"),
        title=title % {"process": found.process_id, "arm": arm, "confidence": confidence},
    )
    for week in found.weeks:
        table.add_row(*_row(week.week, week, locale))
    table.add_row(*_row(gettext("overall"), found.overall, locale), style="bold")
    return table


def _recommendation(found: KpiReport, locale: str) -> list[str]:
    """'Recommendation: hold' and its reasons, one line each."""
    gettext = translations(locale).gettext
    recommendation = found.recommendation
    action = {"scale": gettext("scale"), "hold": gettext("hold"), "stop": gettext("stop")}
    period = recommendation.period
    head = gettext("Recommendation: %(action)s") % {"action": action[recommendation.action]}
    if period.first_week is not None:
        names = {"first": period.first_week, "last": period.last_week, "weeks": period.weeks}
        judged = gettext("Recommendation for %(first)s to %(last)s (%(weeks)s week(s))") % names
        head = gettext("%(judged)s: %(action)s") % {
            "judged": judged,
            "action": action[recommendation.action],
        }
    lines = [head]
    return lines + [f"  - {explain(reason, locale=locale)}" for reason in recommendation.reasons]


def kpis(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help=PROCESS_HELP),
    start: datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"], help="First day."),
    end: datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"], help="Last day."),
    arm: str | None = typer.Option(None, "--arm", help="human_only, assisted or ai_led."),
    as_json: bool = typer.Option(False, "--json", help="Print the full KPIs as JSON."),
    lang: str = typer.Option(DEFAULT_LOCALE, "--lang", help=LANG_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Show a process's KPIs per ISO week and overall, with their intervals."""
    with cli_session(db, lock_early=False) as session:
        locale = parse_locale(lang)  # in the session: a bad value is one line and exit 1
        found = kpi_report(
            session,
            get_process(session, process_id),
            start=start.date() if start else None,
            end=end.date() if end else None,
            arm=parse_arm(arm),
        )
    if as_json:
        typer.echo(found.model_dump_json(by_alias=True, indent=2))
        return
    Console().print(_table(found, locale))
    for line in _recommendation(found, locale):
        typer.echo(line)


def report(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help=PROCESS_HELP),
    week: str = typer.Option(..., "--week", help="ISO week, e.g. 2026-W47."),
    out: Path = typer.Option(Path("report.html"), "--out", help="Where to write the HTML page."),
    lang: str = typer.Option(DEFAULT_LOCALE, "--lang", help="Language of the page: en or ja."),
    base_url: str = typer.Option(
        "",
        "--base-url",
        help="The app's address (e.g. https://deshi.example.com), so the page's links back into "
        "the app work from a file; without it they are relative to the app's root.",
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Write the weekly report of a process as one self-contained HTML page."""
    with cli_session(db, lock_early=False) as session:
        process = get_process(session, process_id)
        html = weekly_report_html(
            session, process, week, locale=parse_locale(lang), base_url=base_url
        )
    out.write_text(html, encoding="utf-8")
    typer.echo(f"Wrote {out}")


def warnings(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help=PROCESS_HELP),
    lang: str = typer.Option(DEFAULT_LOCALE, "--lang", help="Language of the warnings: en or ja."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List the early warnings of a process, most severe first."""
    with cli_session(db, lock_early=False) as session:
        locale = parse_locale(lang)
        found = process_warnings(session, get_process(session, process_id))
    for line in _warning_lines(found, locale):
        typer.echo(line)


def _warning_lines(found: Sequence[WarningPublic], locale: str) -> list[str]:
    """One line per warning: its severity, its code (stable, for scripts) and its sentence."""
    gettext = translations(locale).gettext
    if not found:
        return [gettext("No early warning fired.")]
    severity = {
        "info": gettext("info"),
        "warning": gettext("warning"),
        "critical": gettext("critical"),
    }
    return [f"{severity[w.severity]:<8} {w.code:<22} {explain(w, locale=locale)}" for w in found]


def register(app: typer.Typer) -> None:
    """Attach `kpis`, `report` and `warnings` to the `deshi` app."""
    app.command("kpis")(kpis)
    app.command("report")(report)
    app.command("warnings")(warnings)
