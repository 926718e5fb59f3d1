"""Render a backtest result as one self-contained HTML page (inline CSS and SVG, no assets), in
English or Japanese.

Every label goes through the product's catalog (deshi/locale) and numbers and shares are
formatted for the language by `deshi.i18n`, as in the weekly report. The terminal summary of
`deshi backtest` shares the title, the figures and the verdict, so it speaks the same language.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, partial

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from deshi.charts import Point, line_chart
from deshi.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    format_number,
    format_percent,
    translated_environment,
    translations,
)
from deshi.sim.backtest import BOUND_CONFIDENCE, BacktestResult

__all__ = [
    "Figure",
    "budget_verdict",
    "format_threshold",
    "render_report",
    "report_title",
    "summary_figures",
]


@dataclass(frozen=True, slots=True)
class Figure:
    """One headline number of the summary, formatted for reading, with a short note."""

    label: str
    value: str
    note: str = ""


def render_report(result: BacktestResult, *, locale: str = DEFAULT_LOCALE) -> str:
    """The full HTML page for `result` in `locale` ("en" or "ja")."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; use one of {', '.join(LOCALES)}")
    template = _environment(locale).get_template("backtest_report.html.j2")
    return template.render(
        result=result,
        title=report_title(result, locale=locale),
        figures=summary_figures(result, locale=locale),
        verdict=budget_verdict(result, locale=locale),
        charts=[Markup(chart) for chart in _charts(result, locale)],
    )


@cache
def _environment(locale: str) -> Environment:
    """The package's templates in one language."""
    env = translated_environment(PackageLoader("deshi.sim", "templates"), locale)
    env.globals["format_threshold"] = partial(format_threshold, locale=locale)
    return env


def report_title(result: BacktestResult, *, locale: str = DEFAULT_LOCALE) -> str:
    """'Backtest: history.csv', the heading of the page and of the terminal summary."""
    gettext = translations(locale).gettext
    source = result.source or gettext("labelled history")
    return gettext("Backtest: %(source)s") % {"source": source}


def summary_figures(result: BacktestResult, *, locale: str = DEFAULT_LOCALE) -> list[Figure]:
    """The headline figures of a backtest, shared by the HTML report and the terminal summary."""
    gettext = translations(locale).gettext
    count = partial(format_number, locale=locale)
    share = partial(format_percent, locale=locale, digits=1)
    fine_share = partial(format_percent, locale=locale, digits=2)
    level = format_percent(BOUND_CONFIDENCE, locale=locale, digits=2, trim=True)
    budget = fine_share(result.settings.policy.error_budget)
    return [
        Figure(gettext("Items replayed"), count(result.items), _stream_note(result, locale)),
        Figure(
            gettext("Automation"),
            share(result.automation_rate),
            gettext("%(count)s auto-completed") % {"count": count(result.auto)},
        ),
        Figure(
            gettext("Auto error (realized)"),
            fine_share(result.auto_error_rate),
            gettext("%(count)s wrong") % {"count": count(result.auto_errors)},
        ),
        Figure(
            gettext("Auto error, %(level)s upper bound") % {"level": level},
            fine_share(result.auto_error_upper),
            gettext("budget ε = %(budget)s") % {"budget": budget},
        ),
        Figure(
            gettext("Human reviews"),
            count(result.human_reviews),
            gettext("of which %(count)s audits") % {"count": count(result.audits)},
        ),
        Figure(
            gettext("Agent accuracy"),
            share(result.accuracy),
            gettext("its label vs the truth, all items"),
        ),
        *_learning_figures(result, locale),
        *_history_audit_figures(result, locale),
    ]


def _history_audit_figures(result: BacktestResult, locale: str) -> list[Figure]:
    """The history's label audit, when one ran: rows flagged and the estimated noise."""
    audit = result.history.label_audit if result.history is not None else None
    if audit is None:
        return []
    gettext = translations(locale).gettext
    count = partial(format_number, locale=locale)
    rows = {"rows": count(audit.rows)}
    if audit.estimated_noise is None:
        note = gettext("too few rows or labels to audit (%(rows)s rows)") % rows
    else:
        noise = format_percent(audit.estimated_noise, locale=locale, digits=1)
        note = gettext("estimated label noise %(noise)s of %(rows)s rows") % {
            **rows,
            "noise": noise,
        }
    flagged = gettext("%(count)s flagged") % {"count": count(audit.flagged)}
    return [Figure(gettext("History label audit"), flagged, note)]


def _learning_figures(result: BacktestResult, locale: str) -> list[Figure]:
    """Retrains, the final threshold and the speed of the replay."""
    gettext = translations(locale).gettext
    count = partial(format_number, locale=locale)
    promoted = {"promoted": count(result.promotions), "version": result.final_model_version}
    speed = format_number(result.throughput_items_per_s, locale=locale)
    seconds = format_number(result.seconds, locale=locale, digits=1)
    return [
        Figure(
            gettext("Retrains"),
            count(result.retrains),
            gettext("%(promoted)s promoted; final model v%(version)s") % promoted,
        ),
        Figure(gettext("Final threshold"), format_threshold(result.final_threshold, locale=locale)),
        Figure(
            gettext("Throughput"),
            gettext("%(speed)s items/s") % {"speed": speed},
            gettext("%(seconds)s s in all") % {"seconds": seconds},
        ),
    ]


def budget_verdict(result: BacktestResult, *, locale: str = DEFAULT_LOCALE) -> str:
    """One sentence: is the auto error shown to be within the error budget?"""
    gettext = translations(locale).gettext
    fine_share = partial(format_percent, locale=locale, digits=2)
    values = {
        "level": format_percent(BOUND_CONFIDENCE, locale=locale, digits=2, trim=True),
        "upper": fine_share(result.auto_error_upper),
        "budget": fine_share(result.settings.policy.error_budget),
        "realized": fine_share(result.auto_error_rate),
        "auto": format_number(result.auto, locale=locale),
    }
    if result.within_budget:
        return (
            gettext(
                "Within budget: the %(level)s upper bound on the auto error, %(upper)s, "
                "is at most ε = %(budget)s."
            )
            % values
        )
    return (
        gettext(
            "Not shown within budget: the %(level)s upper bound on the auto error, %(upper)s, "
            "exceeds ε = %(budget)s (realized %(realized)s on %(auto)s auto-completed items)."
        )
        % values
    )


def _stream_note(result: BacktestResult, locale: str) -> str:
    """How many labels, and what was left out of the stream."""
    gettext = translations(locale).gettext
    count = partial(format_number, locale=locale)
    notes = [gettext("%(count)s labels") % {"count": count(len(result.labels))}]
    if result.skipped_blank:
        notes.append(
            gettext("%(count)s blank texts skipped") % {"count": count(result.skipped_blank)}
        )
    if result.skipped_unlabelled:
        notes.append(
            gettext("%(count)s unlabelled rows skipped")
            % {"count": count(result.skipped_unlabelled)}
        )
    joined = notes[0]
    for note in notes[1:]:  # a pattern, not a bare separator: "a; b" reads "a、b" in Japanese
        joined = gettext("%(first)s; %(then)s") % {"first": joined, "then": note}
    return joined


def format_threshold(threshold: float | None, *, locale: str = DEFAULT_LOCALE) -> str:
    """A threshold for reading; None means auto-completion was off."""
    if threshold is None:
        return translations(locale).gettext("off")
    return format_number(threshold, locale=locale, digits=3)


def _charts(result: BacktestResult, locale: str) -> list[str]:
    """Learning curve, automation, auto error against the budget, and the threshold, per window."""
    gettext = translations(locale).gettext
    windows = result.windows
    share = partial(format_percent, locale=locale, digits=2, trim=True)
    number = partial(format_number, locale=locale, digits=2, trim=True)
    over_items = partial(line_chart, x_label=gettext("items"), x_format=number)
    budget = format_percent(result.settings.policy.error_budget, locale=locale, digits=2)

    def per_window(values: list[float | None]) -> list[Point]:
        return [(float(window.end), value) for window, value in zip(windows, values, strict=True)]

    return [
        over_items(
            {gettext("accuracy"): per_window([w.accuracy for w in windows])},
            title=gettext("Learning curve: accuracy of the agent's label per window"),
            y_label=gettext("accuracy"),
            y_max=1.0,
            y_format=share,
        ),
        over_items(
            {gettext("automation"): per_window([w.automation for w in windows])},
            title=gettext("Automation per window"),
            y_label=gettext("auto-completed"),
            y_max=1.0,
            y_format=share,
        ),
        over_items(
            {gettext("auto error"): per_window([w.error for w in windows])},
            title=gettext("Auto error per window (gaps: nothing auto-completed)"),
            y_label=gettext("error of auto-completed"),
            hline=result.settings.policy.error_budget,
            hline_label=gettext("budget ε = %(budget)s") % {"budget": budget},
            y_format=share,
        ),
        over_items(
            {gettext("threshold"): per_window([w.threshold for w in windows])},
            title=gettext(
                "Confidence threshold in force at window end (gaps: auto-completion off)"
            ),
            y_label=gettext("threshold"),
            y_max=1.0,
            y_format=number,
        ),
    ]
