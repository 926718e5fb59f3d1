"""`deshi import PATH --process ID ...` and `deshi history audit | show`: bring a team's
labelled history in, then look at what the label audit doubts.

Bad input is one line on stderr naming the row or column, exit 1 (exit 2 for bad options);
nothing is imported then. The commands act as the workspace operator (`cli:<os user>`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deshi.cli._db import cli_factory, cli_session, cli_settings
from deshi.cli._operator import DB_HELP, JSON_HELP, dumped, emit, operator_actor, print_table
from deshi.domain import FlagStatus
from deshi.history import audit
from deshi.history.models import HistorySummary
from deshi.history.reader import ColumnMap, detect_format, mapped_rows, open_table
from deshi.history.service import Progress as ProgressCallback
from deshi.history.service import history_state, import_history
from deshi.inputs import MAX_ID
from deshi.learning.registry import AgentRegistry
from deshi.processes.service import get_process

__all__ = ["history_app", "register"]

history_app = typer.Typer(help="A process's imported history and its label audit.")

_PHASES = {"read": "Importing rows", "train": "Retraining", "audit": "Auditing labels"}


def import_command(
    path: Path = typer.Argument(..., help="A .csv, .tsv, .jsonl or .xlsx file."),
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help="Process id."),
    text_col: str = typer.Option(..., "--text-col", help="Column with the item's text."),
    label_col: str = typer.Option(..., "--label-col", help="Column with the human label."),
    id_col: str | None = typer.Option(None, "--id-col", help="Column with the source's id."),
    time_col: str | None = typer.Option(None, "--time-col", help="Column with when it was done."),
    field_col: list[str] = typer.Option([], "--field-col", help="A structured field (repeat)."),
    handling_col: str | None = typer.Option(
        None, "--handling-col", help="Column with the seconds a person spent."
    ),
    add_labels: bool = typer.Option(
        False, "--add-labels", help="Add labels the process does not have yet."
    ),
    no_retrain: bool = typer.Option(
        False, "--no-retrain", help="Import only: no retrain and no label audit."
    ),
    no_audit: bool = typer.Option(
        False, "--no-audit", help="Retrain but skip the label audit (minutes on 100,000 rows)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Import a team's labelled history into a process, then retrain and audit its labels."""
    if not path.is_file():
        typer.echo(f"Error: {path}: no such file", err=True)
        raise typer.Exit(2)
    mapping = ColumnMap(
        text=text_col,
        label=label_col,
        id=id_col,
        time=time_col,
        fields=tuple(field_col),
        handling=handling_col,
    )
    registry = AgentRegistry(training_threads=cli_settings(db).training_threads)
    with cli_factory(db) as factory, path.open("rb") as stream, _progress(path, as_json) as tick:
        fmt = detect_format(path.name)
        table = open_table(stream, fmt)
        summary = import_history(
            factory,
            actor=operator_actor(),
            process_id=process_id,
            rows=mapped_rows(table, mapping),
            registry=registry,
            source=path.name,
            table=table,
            add_labels=add_labels,
            train=not no_retrain,
            audit_labels=not no_audit,
            progress=tick,
        )
    if as_json:
        emit(dumped(summary))
    else:
        _print_summary(process_id, summary)


@contextmanager
def _progress(path: Path, quiet: bool) -> Iterator[ProgressCallback | None]:
    """A Rich progress bar on a terminal's stderr (rows read of about how many there are);
    nothing for --json or when stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    total = _estimated_rows(path)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(_PHASES["read"], total=total)

        def tick(phase: str, rows: int) -> None:
            bar.update(task, description=_PHASES.get(phase, phase), completed=rows)

        yield tick


def _estimated_rows(path: Path) -> int | None:
    """Lines in a text file less its header (a quick pass over its bytes); None for Excel."""
    if path.suffix.lower() == ".xlsx":
        return None
    header = 0 if path.suffix.lower() in {".jsonl", ".ndjson"} else 1
    with path.open("rb") as stream:
        return max(_count_newlines(stream) - header, 0)


def _count_newlines(stream: IO[bytes]) -> int:
    count = 0
    while chunk := stream.read(1 << 20):
        count += chunk.count(b"\n")
    return count


def _print_summary(process_id: int, summary: HistorySummary) -> None:
    typer.echo(
        f"Process {process_id}: {summary.imported} of {summary.rows} rows imported "
        f"({summary.skipped_blank_text} blank texts and {summary.skipped_blank_label} blank "
        f"labels skipped, {summary.already_imported} already imported, "
        f"{summary.repeated_ids} repeated ids)."
    )
    if summary.encoding and summary.encoding != "utf-8":
        typer.echo(f"Read as {summary.encoding}.")
    labels = ", ".join(f"{label} {n}" for label, n in summary.labels.items())
    typer.echo(f"Labels ({len(summary.labels)}): {labels}")
    if summary.labels_added:
        typer.echo(f"Labels added to the process: {', '.join(summary.labels_added)}")
    typer.echo(f"Near-duplicates with conflicting labels: {summary.conflicting_duplicates}")
    if summary.rare_labels:
        typer.echo(
            f"Too rare to automate (fewer than {summary.rare_label_minimum} rows): "
            + ", ".join(summary.rare_labels)
        )
    if summary.suspicious is not None:
        noise = summary.estimated_noise_rate or 0.0
        typer.echo(
            f"Label audit: {summary.suspicious} rows flagged; estimated label noise "
            f"{noise:.1%} (deshi history audit --process {process_id})."
        )
    if summary.model_version is not None:
        automation = summary.expected_automation or 0.0
        threshold = "none certified" if summary.threshold is None else f"{summary.threshold:.3f}"
        typer.echo(
            f"Model version {summary.model_version}: threshold {threshold}, expected "
            f"automation {automation:.1%}."
        )


@history_app.command("audit")
def audit_command(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help="Process id."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many rows."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """History rows whose label the audit doubts, most suspicious first."""
    with cli_session(db) as session:
        get_process(session, process_id)
        flags = audit.list_flags(session, process_id, status=FlagStatus.OPEN, limit=limit)
    if as_json:
        emit({"process_id": process_id, "flags": [dumped(flag) for flag in flags]})
        return
    rows = [
        [str(f.id), f.external_id or "-", f.text[:60], f.label, f.suggested_label or "-",
         f"{f.score:.2f}", ", ".join(f.reasons)]
        for f in flags
    ]  # fmt: skip
    print_table(
        ["flag", "id", "text", "label", "suggested", "score", "why"],
        rows,
        f"Process {process_id}: no open label flags.",
    )


@history_app.command("show")
def show_command(
    process_id: int = typer.Option(..., "--process", min=1, max=MAX_ID, help="Process id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """The process's imported history: items, labels, open label flags, imports."""
    with cli_session(db) as session:
        state = history_state(session, get_process(session, process_id))
    if as_json:
        emit(dumped(state))
        return
    noise = "-" if state.estimated_noise_rate is None else f"{state.estimated_noise_rate:.1%}"
    typer.echo(
        f"Process {process_id}: {state.items} history items, {len(state.labels)} labels, "
        f"{state.open_flags} open label flags, {state.corrected} corrected; estimated label "
        f"noise {noise}; {len(state.imports)} imports."
    )


def register(app: typer.Typer) -> None:
    """Attach `deshi import` and the `history` group to the main app."""
    app.command("import")(import_command)
    app.add_typer(history_app, name="history")
