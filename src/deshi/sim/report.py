"""Render a backtest result as one self-contained HTML page (inline CSS and SVG, no assets)."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from deshi.sim.backtest import BOUND_CONFIDENCE, BacktestResult
from deshi.sim.charts import Point, line_chart, percent

__all__ = ["Figure", "budget_verdict", "format_threshold", "render_report", "summary_figures"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One headline number of the summary, formatted for reading, with a short note."""

    label: str
    value: str
    note: str = ""


def render_report(result: BacktestResult) -> str:
    """The full HTML page for `result`."""
    template = _environment().get_template("backtest_report.html.j2")
    return template.render(
        result=result,
        figures=summary_figures(result),
        verdict=budget_verdict(result),
        charts=[Markup(chart) for chart in _charts(result)],
        percent=percent,
        format_threshold=format_threshold,
    )


def _environment() -> Environment:
    """A Jinja2 environment over the package's templates, HTML-escaping by default."""
    return Environment(
        loader=PackageLoader("deshi.sim", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def summary_figures(result: BacktestResult) -> list[Figure]:
    """The headline figures of a backtest, shared by the HTML report and the terminal summary."""
    settings = result.settings
    return [
        Figure("Items replayed", f"{result.items:,}", _stream_note(result)),
        Figure("Automation", f"{result.automation_rate:.1%}", f"{result.auto:,} auto-completed"),
        Figure(
            "Auto error (realized)",
            f"{result.auto_error_rate:.2%}",
            f"{result.auto_errors:,} wrong",
        ),
        Figure(
            f"Auto error, {percent(BOUND_CONFIDENCE)} upper bound",
            f"{result.auto_error_upper:.2%}",
            f"budget ε = {settings.error_budget:.2%}",
        ),
        Figure("Human reviews", f"{result.human_reviews:,}", f"of which {result.audits:,} audits"),
        Figure("Agent accuracy", f"{result.accuracy:.1%}", "its label vs the truth, all items"),
        Figure(
            "Retrains",
            f"{result.retrains:,}",
            f"{result.promotions:,} promoted; final model v{result.final_model_version}",
        ),
        Figure("Final threshold", format_threshold(result.final_threshold)),
        Figure(
            "Throughput",
            f"{result.throughput_items_per_s:,.0f} items/s",
            f"{result.seconds:,.1f} s in all",
        ),
    ]


def budget_verdict(result: BacktestResult) -> str:
    """One sentence: is the auto error shown to be within the error budget?"""
    bound = f"the {percent(BOUND_CONFIDENCE)} upper bound on the auto error"
    budget = f"ε = {result.settings.error_budget:.2%}"
    if result.within_budget:
        return f"Within budget: {bound}, {result.auto_error_upper:.2%}, is at most {budget}."
    return (
        f"Not shown within budget: {bound}, {result.auto_error_upper:.2%}, exceeds {budget} "
        f"(realized {result.auto_error_rate:.2%} on {result.auto:,} auto-completed items)."
    )


def _stream_note(result: BacktestResult) -> str:
    """How many labels, and what was left out of the stream."""
    notes = [f"{len(result.labels):,} labels"]
    if result.skipped_blank:
        notes.append(f"{result.skipped_blank:,} blank texts skipped")
    if result.skipped_unlabelled:
        notes.append(f"{result.skipped_unlabelled:,} unlabelled rows skipped")
    return "; ".join(notes)


def format_threshold(threshold: float | None) -> str:
    """A threshold for reading; None means auto-completion was off."""
    return "off" if threshold is None else f"{threshold:.3f}"


def _charts(result: BacktestResult) -> list[str]:
    """Learning curve, automation, auto error against the budget, and the threshold, per window."""
    windows = result.windows

    def per_window(values: list[float | None]) -> list[Point]:
        return [(float(window.end), value) for window, value in zip(windows, values, strict=True)]

    return [
        line_chart(
            {"accuracy": per_window([w.accuracy for w in windows])},
            title="Learning curve: accuracy of the agent's label per window",
            y_label="accuracy",
            y_max=1.0,
            y_format=percent,
        ),
        line_chart(
            {"automation": per_window([w.automation for w in windows])},
            title="Automation per window",
            y_label="auto-completed",
            y_max=1.0,
            y_format=percent,
        ),
        line_chart(
            {"auto error": per_window([w.error for w in windows])},
            title="Auto error per window (gaps: nothing auto-completed)",
            y_label="error of auto-completed",
            hline=result.settings.error_budget,
            hline_label=f"budget ε = {result.settings.error_budget:.2%}",
            y_format=percent,
        ),
        line_chart(
            {"threshold": per_window([w.threshold for w in windows])},
            title="Confidence threshold in force at window end (gaps: auto-completion off)",
            y_label="threshold",
            y_max=1.0,
        ),
    ]
