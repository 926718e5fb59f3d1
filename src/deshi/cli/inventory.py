"""`deshi inventory add | list`: propose processes for automation, ranked by expected value."""

from __future__ import annotations

import getpass

import typer
from pydantic import TypeAdapter
from rich.console import Console
from rich.table import Table

from deshi.cli._db import cli_session
from deshi.cli._operator import options_as
from deshi.inputs import MAX_ID
from deshi.inventory import service
from deshi.inventory.models import CandidateCreate, RankedCandidatePublic

__all__ = ["inventory_app", "register"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."
DEPARTMENT_HELP = "Department id."

inventory_app = typer.Typer(
    help="The process inventory: candidates ranked by expected yearly savings, with a plan.",
    no_args_is_help=True,
)
_RANKED = TypeAdapter(list[RankedCandidatePublic])


@inventory_app.command("add")
def add(
    department_id: int = typer.Option(..., "--department", min=1, max=MAX_ID, help=DEPARTMENT_HELP),
    name: str = typer.Option(..., "--name", help="Name of the candidate process."),
    monthly_volume: float = typer.Option(..., "--monthly-volume", help="Items per month."),
    minutes: float = typer.Option(..., "--minutes", help="Human minutes per item today."),
    exception_rate: float = typer.Option(
        ..., "--exception-rate", help="Share of items that always need a human (0..1)."
    ),
    measurability: int = typer.Option(
        ..., "--measurability", help="1 (no outcome data) .. 5 (every outcome recorded)."
    ),
    hourly_rate: float = typer.Option(..., "--hourly-rate", help="Cost of an hour of work."),
    currency: str = typer.Option("USD", "--currency", help="ISO 4217 code, e.g. JPY."),
    notes: str = typer.Option("", "--notes", help="Free text for the owner."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Add a candidate process to a department's inventory (audited)."""
    data = options_as(
        CandidateCreate,
        {
            "name": name,
            "monthly_volume": monthly_volume,
            "minutes_per_item": minutes,
            "exception_rate": exception_rate,
            "measurability": measurability,
            "hourly_rate": hourly_rate,
            "currency": currency,
            "notes": notes,
        },
    )
    actor = f"cli:{getpass.getuser()}"
    with cli_session(db) as session:
        candidate = service.add_candidate(
            session, actor=actor, department_id=department_id, data=data
        )
        candidate_id = candidate.id
    typer.echo(
        f"Added candidate {candidate_id} ({data.name.strip()}) to department {department_id}."
    )


def _plan_summary(ranked: RankedCandidatePublic) -> str:
    """Phases with their days, and the monthly savings the scale phase must reach."""
    phases = " → ".join(
        f"{p.name.replace('_', ' ')} d{p.start_day}-{p.end_day}" for p in ranked.plan
    )
    targets = [
        criterion.params["monthly_target"]
        for phase in ranked.plan
        for criterion in phase.exit_criteria
        if "monthly_target" in criterion.params
    ]
    if not targets:
        return phases
    return f"{phases}; then save ≥ {targets[0]:,.0f} {ranked.candidate.currency}/month"


def _table(department_id: int, ranked: list[RankedCandidatePublic]) -> Table:
    table = Table(
        "rank",
        "name",
        "expected yearly savings",
        "priority",
        "plan",
        title=f"Department {department_id}: process inventory, best first",
    )
    for row in ranked:
        table.add_row(
            str(row.rank),
            row.candidate.name,
            f"{row.expected_yearly_savings:,.0f} {row.candidate.currency}",
            f"{row.priority_score:,.0f}",
            _plan_summary(row),
        )
    return table


@inventory_app.command("list")
def list_inventory(
    department_id: int = typer.Option(..., "--department", min=1, max=MAX_ID, help=DEPARTMENT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the ranked inventory as JSON."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Rank a department's candidates by expected yearly savings and measurability."""
    with cli_session(db) as session:
        ranked = service.ranked_inventory(session, department_id=department_id)
    if as_json:
        typer.echo(_RANKED.dump_json(ranked, indent=2).decode())
        return
    if not ranked:
        typer.echo(f"Department {department_id} has no candidates yet.")
        return
    Console().print(_table(department_id, ranked))


def register(app: typer.Typer) -> None:
    """Attach the `inventory` group to the main app."""
    app.add_typer(inventory_app, name="inventory")
