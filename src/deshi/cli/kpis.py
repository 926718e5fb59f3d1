"""`deshi kpis | report | warnings`: a process's proof of value, read straight from the database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from deshi.cli._db import cli_session
from deshi.i18n import DEFAULT_LOCALE, parse_locale
from deshi.kpis import service
from deshi.kpis.models import KpiReport, Kpis, Metric

__all__ = ["kpis", "register", "report", "warnings"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."
PROCESS_HELP = "Process id."


def _cell(value: Metric | None, fmt: str) -> str:
    if value is None:
        return "-"
    if value.low == value.high:
        return f"{value.value:{fmt}}"
    return f"{value.value:{fmt}} [{value.low:{fmt}}, {value.high:{fmt}}]"


def _row(period: str, kpis: Kpis) -> list[str]:
    return [
        period,
        str(kpis.items),
        _cell(kpis.model.accuracy, ".1%"),
        _cell(kpis.model.auto_error, ".2%"),
        _cell(kpis.product.automation, ".1%"),
        _cell(kpis.product.acceptance, ".1%"),
        _cell(kpis.product.handling_seconds, ",.0f"),
        _cell(kpis.business.hours_saved, ",.1f"),
        _cell(kpis.business.net_savings, ",.0f"),
        _cell(kpis.flywheel.reviews, ",.0f"),
    ]


def _table(found: KpiReport) -> Table:
    arm = found.arm or "all arms"
    table = Table(
        "week",
        "items",
        "accuracy",
        "auto error",
        "automation",
        "acceptance",
        "handling s",
        "hours saved",
        f"net ({found.currency})",
        "reviews",
        title=f"Process {found.process_id}, {arm}: estimate [{found.confidence:.0%} interval]",
    )
    for week in found.weeks:
        table.add_row(*_row(week.week, week))
    table.add_row(*_row("overall", found.overall), style="bold")
    return table


def kpis(
    process_id: int = typer.Option(..., "--process", help=PROCESS_HELP),
    start: datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"], help="First day."),
    end: datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"], help="Last day."),
    arm: str | None = typer.Option(None, "--arm", help="human_only, assisted or ai_led."),
    as_json: bool = typer.Option(False, "--json", help="Print the full KPIs as JSON."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Show a process's KPIs per ISO week and overall, with their intervals."""
    with cli_session(db) as session:
        found = service.kpi_report(
            session,
            service.get_process(session, process_id),
            start=start.date() if start else None,
            end=end.date() if end else None,
            arm=service.parse_arm(arm),
        )
    if as_json:
        typer.echo(found.model_dump_json(by_alias=True, indent=2))
        return
    Console().print(_table(found))
    recommendation = found.recommendation
    typer.echo(f"Recommendation: {recommendation.action}")
    for reason in recommendation.reasons:
        typer.echo(f"  - {reason.message}")


def report(
    process_id: int = typer.Option(..., "--process", help=PROCESS_HELP),
    week: str = typer.Option(..., "--week", help="ISO week, e.g. 2026-W47."),
    out: Path = typer.Option(Path("report.html"), "--out", help="Where to write the HTML page."),
    lang: str = typer.Option(DEFAULT_LOCALE, "--lang", help="Language of the page: en or ja."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Write the weekly report of a process as one self-contained HTML page."""
    with cli_session(db) as session:
        process = service.get_process(session, process_id)
        html = service.weekly_report_html(session, process, week, locale=parse_locale(lang))
    out.write_text(html, encoding="utf-8")
    typer.echo(f"Wrote {out}")


def warnings(
    process_id: int = typer.Option(..., "--process", help=PROCESS_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List the early warnings of a process, most severe first."""
    with cli_session(db) as session:
        found = service.process_warnings(session, service.get_process(session, process_id))
    if not found:
        typer.echo("No early warning fired.")
    for warning in found:
        typer.echo(f"{warning.severity:<8} {warning.code:<22} {warning.message}")


def register(app: typer.Typer) -> None:
    """Attach `kpis`, `report` and `warnings` to the `deshi` app."""
    app.command("kpis")(kpis)
    app.command("report")(report)
    app.command("warnings")(warnings)
