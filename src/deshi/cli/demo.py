"""`deshi demo`: a workspace with weeks of simulated work, then served (see docs/demo.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from deshi.engine import DEFAULT_POLICY

if TYPE_CHECKING:
    from deshi.sim.demo import DemoConfig, DemoResult

__all__ = ["register"]


def demo(
    workspace: Path = typer.Option(Path("deshi-demo"), help="Directory of the demo database."),
    weeks: int = typer.Option(12, min=1, max=52, help="ISO weeks to simulate, ending this week."),
    items_per_week: int = typer.Option(700, min=1, help="Items arriving each week."),
    seed: int = typer.Option(0, help="Seed of the data order and the simulated people."),
    history: int = typer.Option(
        4600,
        min=0,
        help="Items of the team's past work imported before week 1 (0: start cold).",
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Recreate an existing demo workspace."),
    error_budget: float = typer.Option(
        DEFAULT_POLICY.error_budget,
        min=0.0001,
        max=0.5,
        help=f"ε of the simulated process (δ is {DEFAULT_POLICY.delta:g}).",
    ),
    serve: bool = typer.Option(True, help="Serve the workspace when the simulation is done."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the summary to this file."),
    host: str = typer.Option("127.0.0.1", help="Interface to serve on."),
    port: int = typer.Option(8000, help="TCP port to serve on."),
) -> None:
    """Simulate WEEKS weeks of a back-office process on BANKING77 through the real services,
    print a login, and serve the workspace; a workspace that already holds a finished demo is
    served again as it is (--fresh rebuilds it)."""
    from deshi.cli._db import cli_settings
    from deshi.engine.blas import limit_blas_threads
    from deshi.sim.demo import DemoConfig
    from deshi.sim.demo_workspace import LOGIN_EMAIL, WorkspaceExistsError, completed_demo

    existing = None if fresh else completed_demo(workspace)
    if existing is not None:
        url = f"sqlite:///{existing}"
        typer.echo(
            f"{workspace} already holds a finished demo: serving it again (--fresh rebuilds it)."
        )
        typer.echo(
            f"Login: {LOGIN_EMAIL}, with the password printed when it was built "
            f"(a new one: deshi user reset-password {LOGIN_EMAIL} --db {url})"
        )
        _serve_or_hint(url, serve=serve, host=host, port=port)
        return

    limit_blas_threads(cli_settings().blas_threads)  # the simulation retrains as a server would
    config = DemoConfig(
        workspace=workspace,
        weeks=weeks,
        items_per_week=items_per_week,
        seed=seed,
        fresh=fresh,
        history=history,
        error_budget=error_budget,
    )
    try:
        result = _simulate(config)
    except (WorkspaceExistsError, ValueError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_out is not None:
        json_out.write_text(json.dumps(result.summary, indent=2) + "\n", encoding="utf-8")
    _print_summary(result.summary)
    typer.echo(f"Login: {result.login_email}")
    typer.echo(f"Password (generated for this workspace, shown once): {result.login_password}")
    _serve_or_hint(result.database_url, serve=serve, host=host, port=port)


def _serve_or_hint(url: str, *, serve: bool, host: str, port: int) -> None:
    """Serve the workspace's database, or say how to serve it later."""
    if serve:
        from deshi.cli.serve import serve as serve_api

        typer.echo(f"Serving http://{host}:{port}/ (Ctrl+C to stop)")
        serve_api(host=host, port=port, db=url, worker=True)
    else:
        typer.echo(f"Serve it later with: deshi serve --db {url}")


def _simulate(config: DemoConfig) -> DemoResult:
    """Run the demo under a Rich progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from deshi.sim.demo import run_demo

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("setting up", total=config.weeks * config.items_per_week)

        def report(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        return run_demo(config, progress=report)


def _print_summary(summary: dict[str, Any]) -> None:
    items, reviews, versions = summary["items"], summary["reviews"], summary["model_versions"]
    automation = summary["automation"]
    auto_error = summary["auto_error_from_audits"]
    if summary["history_items"]:
        typer.echo(f"Imported {summary['history_items']} items of the team's history first.")
    typer.echo(
        f"Simulated {items['total']} items over {len(summary['weeks'])} weeks "
        f"in {summary['simulation_seconds']} s: {items['auto_completed']} auto-completed, "
        f"{items['completed']} reviewed, {items['queued']} waiting in the queue."
    )
    typer.echo(
        f"Automation {_percent(automation)}; audited auto error "
        f"{_percent(None if auto_error is None else auto_error['value'])}"
        f" (n={0 if auto_error is None else auto_error['n']}); {reviews['total']} reviews; "
        f"model v{versions['champion']} of {versions['count']}; "
        f"recommendation: {summary['recommendation']['action']}."
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def register(app: typer.Typer) -> None:
    """Attach `demo` to the main app."""
    app.command("demo")(demo)
