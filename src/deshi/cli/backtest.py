"""`deshi backtest`: replay labelled history through a learning agent; report what it would do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperCommand

from deshi.engine import DEFAULT_POLICY, Policy, PolicyError
from deshi.engine.types import FEATURIZER_NAMES
from deshi.errors import ValidationFailed
from deshi.i18n import DEFAULT_LOCALE, parse_locale
from deshi.sim.backtest import (
    BacktestProgress,
    BacktestResult,
    BacktestSettings,
    run_backtest,
)
from deshi.sim.dataset import BUNDLED, Dataset, load_bundled, load_dataset
from deshi.sim.report import budget_verdict, render_report, report_title, summary_figures

__all__ = ["backtest", "register"]

USAGE_ERROR = 2
_GROUPED_WARNING = (
    "Warning: the items come in blocks of one label, so each block starts with a label the agent "
    "has never seen; add --shuffle-seed N for a replay closer to a live stream."
)


def register(app: typer.Typer) -> None:
    """Attach the `backtest` command to the `deshi` app."""
    app.command("backtest", cls=_OneLineUsageErrors)(backtest)


class _OneLineUsageErrors(TyperCommand):
    """Report unparsable options (e.g. `--limit ten`) as one plain line, like all bad input."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:  # Typer's Context base is private
        try:
            return super().make_context(*args, **kwargs)
        except typer.TyperException as error:  # Typer's usage errors (it vendors Click)
            _fail(error.format_message())


def backtest(
    path: Annotated[
        Path | None, typer.Argument(help="CSV, TSV or JSONL file of labelled items, in time order.")
    ] = None,
    bundled: Annotated[
        str | None,
        typer.Option(help=f"Use a bundled data set instead of PATH: {', '.join(BUNDLED)}."),
    ] = None,
    text_col: Annotated[str | None, typer.Option(help="Column holding the item text.")] = None,
    label_col: Annotated[str | None, typer.Option(help="Column holding the true label.")] = None,
    error_budget: Annotated[
        float, typer.Option(help="ε: tolerated auto error, in (0, 1).")
    ] = DEFAULT_POLICY.error_budget,
    confidence: Annotated[
        float, typer.Option(help="1 - δ for the guarantee, in (0, 1).")
    ] = DEFAULT_POLICY.confidence,
    audit_rate: Annotated[
        float, typer.Option(help="Share of would-be-auto items audited.")
    ] = DEFAULT_POLICY.audit_rate,
    shuffle_seed: Annotated[
        int | None, typer.Option(help="Shuffle the stream with this seed (default: file order).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Replay only the first N items (after any shuffle).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures as JSON to this file.")
    ] = None,
    report_out: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")
    ] = None,
    featurizer: Annotated[
        str, typer.Option(help="tfidf, ja_words, multilingual or embeddings (docs/engine.md).")
    ] = "tfidf",
    history: Annotated[
        Path | None,
        typer.Option(
            help="Labelled history (same columns), taken in as reviewed items and trained on "
            "before the stream is replayed as live."
        ),
    ] = None,
    audit: Annotated[
        bool,
        typer.Option(
            "--audit/--no-audit",
            help="With --history: audit its labels first, as `deshi import` does (slow on big "
            "histories: --no-audit skips it).",
        ),
    ] = True,
    window: Annotated[int, typer.Option(help="Items per window of the learning curve.")] = 500,
    lang: Annotated[
        str, typer.Option(help="Language of the summary and the HTML report: en or ja.")
    ] = DEFAULT_LOCALE,
) -> None:
    """Replay labelled history as a live stream: what would the agent have auto-completed, how
    wrong would it have been, and how much human review would it have needed?"""
    try:
        policy = _policy(error_budget, confidence, audit_rate)
        _check_options(featurizer, window, limit)
        _check_output_folders(json_out, report_out)
        locale = _locale(lang)
        settings = BacktestSettings(
            policy=policy,
            featurizer=featurizer,
            seed=shuffle_seed,
            window=window,
        )
        dataset = _load(path, bundled, text_col, label_col)
        stream = dataset.shuffled(shuffle_seed).head(limit).require_backtestable()
        past = _load_history(history, text_col, label_col)
    except ValueError as error:
        _fail(str(error))
    if shuffle_seed is None and stream.grouped_by_label:
        typer.echo(_GROUPED_WARNING, err=True)
    result = _run_with_progress(stream, settings, past, label_audit=audit)
    console = Console()
    console.print(_summary_table(result, locale))
    verdict = budget_verdict(result, locale=locale)
    console.print(verdict, style="green" if result.within_budget else "yellow")
    _write_outputs(result, json_out, report_out, locale)


def _fail(message: str) -> NoReturn:
    """Print one plain line on stderr and exit with the usage-error code."""
    typer.echo(f"Error: {' '.join(message.split())}", err=True)
    raise typer.Exit(USAGE_ERROR)


def _policy(error_budget: float, confidence: float, audit_rate: float) -> Policy:
    """The risk policy of the options; ValueError naming the option when one is out of range."""
    try:
        return Policy(error_budget=error_budget, confidence=confidence, audit_rate=audit_rate)
    except PolicyError as error:
        raise ValueError(f"--{error.field.replace('_', '-')} {error.reason}") from None


def _check_options(featurizer: str, window: int, limit: int | None) -> None:
    """Raise ValueError, naming the option, for values out of range."""
    if featurizer not in FEATURIZER_NAMES:
        names = ", ".join(repr(name) for name in FEATURIZER_NAMES)
        raise ValueError(f"--featurizer must be one of {names}, got {featurizer!r}")
    if window < 1:
        raise ValueError(f"--window must be at least 1, got {window}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1, got {limit}")


def _locale(lang: str) -> str:
    """The language of `--lang`; ValueError naming the option otherwise."""
    try:
        return parse_locale(lang)
    except ValidationFailed as error:
        raise ValueError(f"--lang: {error.detail}") from None


def _check_output_folders(*outputs: Path | None) -> None:
    """Fail before a long run, not after, when an output file cannot be created."""
    for output in outputs:
        if output is not None and not output.parent.is_dir():
            raise ValueError(f"cannot write {output}: folder {output.parent} does not exist")


def _load(
    path: Path | None, bundled: str | None, text_col: str | None, label_col: str | None
) -> Dataset:
    """Load PATH, or the bundled data set (whose columns are known), but not both."""
    if bundled is not None:
        if path is not None:
            raise ValueError("give either PATH or --bundled NAME, not both")
        return load_bundled(bundled, text_col=text_col, label_col=label_col)
    if path is None:
        raise ValueError("give a PATH to labelled history, or --bundled NAME")
    if text_col is None or label_col is None:
        raise ValueError("--text-col and --label-col are required with PATH")
    return load_dataset(path, text_col=text_col, label_col=label_col)


def _load_history(path: Path | None, text_col: str | None, label_col: str | None) -> Dataset | None:
    """The history file, read with the stream's columns, its case ids kept apart from the
    stream's (both number their rows from 1)."""
    if path is None:
        return None
    if text_col is None or label_col is None:
        raise ValueError("--text-col and --label-col are required with --history")
    loaded = load_dataset(path, text_col=text_col, label_col=label_col)
    return loaded.renamed("history-").require_backtestable()


def _run_with_progress(
    stream: Dataset,
    settings: BacktestSettings,
    history: Dataset | None = None,
    *,
    label_audit: bool = False,
) -> BacktestResult:
    """Run the backtest under a Rich progress bar on stderr (the history is taken in first,
    its labels audited before that when asked)."""
    if history is not None and label_audit:
        rows = len(history.items)
        typer.echo(f"Auditing the labels of {rows:,} history rows (--no-audit skips it)…", err=True)
    columns = (
        TextColumn("[bold]backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[speed]} items/s"),
        TextColumn("automation {task.fields[automation]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("backtest", total=len(stream.items), speed="-", automation="-")

        def show(step: BacktestProgress) -> None:
            speed = f"{step.done / step.elapsed:,.0f}" if step.elapsed > 0 else "-"
            automation = f"{step.automation_rate:.1%}"
            progress.update(task, completed=step.done, speed=speed, automation=automation)

        return run_backtest(
            stream,
            settings=settings,
            history=history,
            label_audit=label_audit,
            on_progress=show,
        )


def _summary_table(result: BacktestResult, locale: str) -> Table:
    """The headline figures as a Rich table."""
    title = report_title(result, locale=locale)
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    table.add_column("note", style="dim")
    for figure in summary_figures(result, locale=locale):
        table.add_row(figure.label, figure.value, figure.note)
    return table


def _write_outputs(
    result: BacktestResult, json_out: Path | None, report_out: Path | None, locale: str
) -> None:
    """Write the JSON figures and the HTML report where asked."""
    try:
        if json_out is not None:
            payload = json.dumps(result.to_dict(), indent=2, ensure_ascii=False)
            json_out.write_text(payload + "\n", encoding="utf-8")
            typer.echo(f"Figures written to {json_out}", err=True)
        if report_out is not None:
            report_out.write_text(render_report(result, locale=locale), encoding="utf-8")
            typer.echo(f"Report written to {report_out}", err=True)
    except OSError as error:
        _fail(f"cannot write output: {error}")
