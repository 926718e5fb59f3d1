"""`deshi process create | list | update | archive | go-live`: processes and their policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from deshi.cli._db import cli_factory, cli_session
from deshi.cli._operator import (
    DB_HELP,
    JSON_HELP,
    dumped,
    emit,
    operator_actor,
    options_as,
    print_table,
)
from deshi.db import transaction
from deshi.history import golive
from deshi.inputs import MAX_ID
from deshi.processes import service
from deshi.processes.models import (
    LabelNamesUpdate,
    ProcessCreate,
    ProcessPublic,
    ProcessUpdate,
)

__all__ = ["process_app", "register"]

process_app = typer.Typer(
    help="Processes: create, list, change the policy, archive.", no_args_is_help=True
)
LABELS_HELP = "Comma-separated labels, e.g. refund,complaint,other."


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [part.strip() for part in value.split(",") if part.strip()]


def _json_option(value: str | None, option: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        typer.echo(f"Error: {option}: not JSON: {exc}", err=True)
        raise typer.Exit(1) from None


@process_app.command("create")
def create(
    department_id: int = typer.Option(
        ..., "--department", min=1, max=MAX_ID, help="Department id."
    ),
    name: str = typer.Option(..., "--name", help="The process's name."),
    labels: str = typer.Option("", "--labels", help=LABELS_HELP),
    description: str = typer.Option("", "--description", help="What the process decides."),
    featurizer: str = typer.Option(
        "tfidf",
        "--featurizer",
        help="tfidf, ja_words, multilingual or embeddings (docs/engine.md).",
    ),
    error_budget: float | None = typer.Option(None, "--error-budget", help="ε, e.g. 0.01."),
    confidence: float | None = typer.Option(None, "--confidence", help="1 − δ, e.g. 0.95."),
    audit_rate: float | None = typer.Option(None, "--audit-rate", help="e.g. 0.05."),
    mode: str = typer.Option("shadow", "--mode", help="shadow, assist or autopilot."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Create a process (in shadow mode unless told otherwise; audited)."""
    data = options_as(
        ProcessCreate,
        {
            "department_id": department_id,
            "name": name,
            "labels": _split(labels) or [],
            "description": description,
            "featurizer": featurizer,
            "error_budget": error_budget,
            "confidence": confidence,
            "audit_rate": audit_rate,
            "mode": mode,
        },
    )
    with cli_session(db) as session:
        process = ProcessPublic.model_validate(
            service.create_process(
                session,
                actor=operator_actor(),
                department_id=data.department_id,
                name=data.name,
                labels=data.labels,
                data=data,
            )
        )
    if as_json:
        emit({"id": process.id, "name": process.name, "department_id": process.department_id})
    else:
        typer.echo(f"Process {process.id} created: {process.name} ({process.mode.value})")


@process_app.command("list")
def list_processes(
    department_id: int | None = typer.Option(
        None, "--department", min=1, max=MAX_ID, help="Only this department."
    ),
    include_archived: bool = typer.Option(False, "--all", help="Include archived processes."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List processes, oldest first."""
    with cli_session(db) as session:
        processes = [
            ProcessPublic.model_validate(p)
            for p in service.list_processes(
                session, department_id=department_id, include_archived=include_archived
            )
        ]
    if as_json:
        emit({"processes": [dumped(p) for p in processes]})
        return
    rows = [
        [
            str(p.id),
            p.name,
            str(p.department_id),
            p.mode.value,
            f"{p.error_budget:g}",
            str(len(p.labels)),
            "archived" if p.archived_at else "live",
        ]
        for p in processes
    ]
    columns = ["id", "name", "department", "mode", "ε", "labels", "state"]
    print_table(columns, rows, "No processes yet.")


@process_app.command("update")
def update(
    process_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Process id."),
    name: str | None = typer.Option(None, "--name", help="New name."),
    labels: str | None = typer.Option(None, "--labels", help=LABELS_HELP),
    error_budget: float | None = typer.Option(None, "--error-budget", help="ε, e.g. 0.01."),
    confidence: float | None = typer.Option(None, "--confidence", help="1 − δ, e.g. 0.95."),
    audit_rate: float | None = typer.Option(None, "--audit-rate", help="e.g. 0.05."),
    mode: str | None = typer.Option(None, "--mode", help="shadow, assist or autopilot."),
    sensitive: str | None = typer.Option(
        None, "--sensitive-labels", help="Comma-separated labels never auto-completed."
    ),
    rules: str | None = typer.Option(
        None, "--rules", help='Always-human rules as JSON, e.g. \'[{"pattern": "lawyer"}]\'.'
    ),
    arms: str | None = typer.Option(
        None, "--arms", help='Arm shares as JSON, e.g. \'{"human_only": 0.1, "ai_led": 0.9}\'.'
    ),
    featurizer: str | None = typer.Option(
        None, "--featurizer", help="tfidf, ja_words, multilingual or embeddings (docs/engine.md)."
    ),
    new_labels: str | None = typer.Option(
        None, "--new-labels", help="Who may add a label by answering a review: reviewers or owners."
    ),
    draft_autosend: bool | None = typer.Option(
        None,
        "--draft-autosend/--no-draft-autosend",
        help="Send the drafts of auto-completed items without review, inside the error budget "
        "(docs/drafting.md); off: drafts are suggestions only.",
    ),
    minutes: float | None = typer.Option(None, "--human-minutes", help="Human minutes per item."),
    hourly_rate: float | None = typer.Option(None, "--hourly-rate", help="Cost of an hour."),
    error_cost: float | None = typer.Option(
        None, "--cost-per-error", help="Cost of an escaped error."
    ),
    running_cost: float | None = typer.Option(
        None, "--running-cost", help="What running the agent costs per week (for net savings, ROI)."
    ),
    currency: str | None = typer.Option(None, "--currency", help="e.g. USD, JPY."),
    guidance: list[str] = typer.Option(
        [],
        "--label-guidance",
        help='Drafting guidance for a label, LABEL="text" (repeat it); LABEL= removes it.',
    ),
    guidance_file: Path | None = typer.Option(
        None,
        "--label-guidance-file",
        help='Drafting guidance from a JSON file, {"LABEL": "text"}; "" removes one.',
    ),
    unguided: list[str] = typer.Option(
        [], "--clear-label-guidance", help="Remove a label's drafting guidance (repeat it)."
    ),
    fields: list[str] = typer.Option(
        [],
        "--draft-field",
        help='A field to fill from the documents, NAME="instruction" (repeat it); '
        "deshi draft --item ID --field NAME fills it.",
    ),
    unfielded: list[str] = typer.Option(
        [], "--clear-draft-field", help="Remove a drafting field (repeat it)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Change a process's policy, costs, labels or drafting guidance; only the options given
    change (audited)."""
    given = {
        "name": name,
        "labels": _split(labels),
        "error_budget": error_budget,
        "confidence": confidence,
        "audit_rate": audit_rate,
        "mode": mode,
        "sensitive_labels": _split(sensitive),
        "always_human_rules": _json_option(rules, "--rules"),
        "arms": _json_option(arms, "--arms"),
        "featurizer": featurizer,
        "new_labels": new_labels,
        "draft_autosend": draft_autosend,
        "human_minutes_per_item": minutes,
        "hourly_rate": hourly_rate,
        "cost_per_escaped_error": error_cost,
        "running_cost_per_week": running_cost,
        "currency": currency,
        "label_guidance": _label_guidance(guidance, guidance_file, unguided),
        "draft_fields": _draft_fields(fields, unfielded),
    }
    changes = options_as(ProcessUpdate, {k: v for k, v in given.items() if v is not None})
    with cli_session(db) as session:
        process = service.get_process(session, process_id)
        updated = ProcessPublic.model_validate(
            service.apply_process_changes(
                session, actor=operator_actor(), process=process, changes=changes
            )
        )
    if as_json:
        emit(dumped(updated))
    else:
        typer.echo(
            f"Process {updated.id}: {updated.mode.value}, ε {updated.error_budget:g}, "
            f"confidence {updated.confidence:g}, audit rate {updated.audit_rate:g}"
        )


def _label_guidance(
    pairs: list[str], path: Path | None, cleared: list[str]
) -> dict[str, Any] | None:
    """The guidance options as one {label: text} change (the file, then the pairs, then the
    labels cleared), or None when none was given; a bad pair or file is exit 1."""
    changes: dict[str, Any] = {}
    if path is not None:
        changes.update(_guidance_file(path))
    changes.update(_code_pairs(pairs, "--label-guidance", "LABEL=text"))
    changes.update(dict.fromkeys((code.strip() for code in cleared), ""))
    return changes or None


def _draft_fields(pairs: list[str], cleared: list[str]) -> dict[str, str] | None:
    """The field options as one {name: instruction} change (the pairs, then the names cleared),
    or None when none was given; a pair without `=` is exit 1."""
    changes = _code_pairs(pairs, "--draft-field", "NAME=instruction")
    changes.update(dict.fromkeys((name.strip() for name in cleared), ""))
    return changes or None


def _code_pairs(pairs: list[str], option: str, shape: str) -> dict[str, str]:
    """`code=value` options as {code: value}; a pair without `=` or code is exit 1."""
    values: dict[str, str] = {}
    for pair in pairs:
        code, sep, value = pair.partition("=")
        if not sep or not code.strip():
            typer.echo(f"Error: {option}: {pair!r} is not {shape}", err=True)
            raise typer.Exit(1)
        values[code.strip()] = value
    return values


def _guidance_file(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"Error: --label-guidance-file: {path}: {exc}", err=True)
        raise typer.Exit(1) from None
    if not isinstance(loaded, dict):
        typer.echo(f'Error: --label-guidance-file: {path}: not {{"LABEL": "text"}}', err=True)
        raise typer.Exit(1)
    return loaded


def _label_names(pairs: list[str], language: str) -> dict[str, dict[str, str]]:
    """`code=name` options as {language: {code: name}}; a pair without `=` is exit 1."""
    names = _code_pairs(pairs, "--name", "code=name")
    return {language: names} if names else {}


@process_app.command("labels")
def labels(
    process_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Process id."),
    names: list[str] = typer.Option(
        [],
        "--name",
        help='A label\'s readable name, code="Readable name" (repeat it); an empty name '
        "removes one.",
    ),
    language: str = typer.Option("en", "--lang", help="The language of the names: en or ja."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List a process's labels with their readable names; with --name, set names first
    (audited)."""
    changes = options_as(LabelNamesUpdate, {"names": _label_names(names, language)})
    with cli_session(db) as session:
        process = service.get_process(session, process_id)
        shown = (
            service.set_label_names(
                session, actor=operator_actor(), process=process, changes=changes
            )
            if changes.names
            else service.labels_of(process)
        )
    if as_json:
        emit({"labels": [dumped(label) for label in shown]})
        return
    rows = [[label.code, label.names.get("en", ""), label.names.get("ja", "")] for label in shown]
    print_table(["code", "en", "ja"], rows, "The process has no labels yet.")


@process_app.command("archive")
def archive(
    process_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Process id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Archive a process: it keeps its history and takes no new items (audited)."""
    with cli_session(db) as session:
        process = service.get_process(session, process_id)
        archived = ProcessPublic.model_validate(
            service.archive_process_as(session, actor=operator_actor(), process=process)
        )
    if as_json:
        emit(dumped(archived))
    else:
        typer.echo(f"Process {archived.id} archived.")


@process_app.command("go-live")
def go_live(
    process_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Process id."),
    stored: bool = typer.Option(
        False, "--stored", help="Print the latest stored check instead of running one."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """What autopilot would have done on the most recent slice of the history: automation and
    error at the process's ε, with a verdict (runs a retrain on the older history)."""
    with cli_factory(db) as factory:
        if stored:
            with transaction(factory, lock_early=False) as session:
                check = golive.latest_golive(session, service.get_process(session, process_id))
        else:
            check = golive.run_golive(factory, process_id=process_id, actor=operator_actor())
    if as_json:
        emit(dumped(check))
    elif check.status == "none":
        typer.echo(f"Process {process_id}: no go-live check yet.")
    else:
        typer.echo(check.message or check.error or f"Process {process_id}: {check.status}.")


def register(app: typer.Typer) -> None:
    """Attach the `process` group to the main app."""
    app.add_typer(process_app, name="process")
