"""Shapes the pages show, computed from service results: KPI cards and charts.

The dashboard shows the same numbers as the weekly report: the cards are the period's overall
KPIs (the very estimates the recommendation judges), and the charts are the report's
(`deshi.kpis.report.week_charts`). Each card names the definition it links to on the help page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deshi.kpis.definitions import help_link
from deshi.kpis.drafting import DraftingReport
from deshi.kpis.models import BudgetPublic, KpiReport, Metric
from deshi.kpis.report import week_charts

__all__ = ["KpiCard", "charts", "drafting_cards", "kpi_cards"]

Kind = Literal["count", "percent", "seconds", "hours", "money", "ratio"]


@dataclass(frozen=True, slots=True)
class KpiCard:
    """One number on the dashboard; `key` is stable (tests, CSS and the help page's anchor),
    `title` is a msgid, `budget` is set on the auto-complete error card only."""

    key: str
    title: str
    kind: Kind
    metric: Metric | None
    budget: BudgetPublic | None = None
    note: str | None = None  # a msgid qualifying the number (e.g. where its baseline comes from)

    @property
    def help(self) -> str:
        """Where the card's definition is, on the help page."""
        return help_link(self.key)


def _n_(message: str) -> str:
    """Mark a msgid for extraction; it is translated when rendered."""
    return message


_HISTORY_BASELINE = _n_(
    "Against the handling times of the imported history (measured in your previous system), "
    "until the human-only arm has enough items."
)


_NO_RUNNING_COST = _n_("Set the running cost per week in the process's settings to see it.")


def kpi_cards(report: KpiReport) -> list[KpiCard]:
    """The headline KPIs of the whole period, model to business."""
    k = report.overall
    items = Metric(value=k.items, low=k.items, high=k.items, n=k.items)
    error, budget = k.model.auto_error, k.model.budget
    baseline_note = _HISTORY_BASELINE if k.business.baseline_source == "history" else None
    return [
        KpiCard("items", _n_("Items"), "count", items),
        KpiCard("reviews", _n_("Reviews"), "count", k.flywheel.reviews),
        KpiCard("accuracy", _n_("Agent accuracy"), "percent", k.model.accuracy),
        KpiCard("automation", _n_("Automation"), "percent", k.product.automation),
        KpiCard("acceptance", _n_("Suggestions accepted"), "percent", k.product.acceptance),
        KpiCard("auto_error", _n_("Auto-complete error"), "percent", error, budget),
        KpiCard("handling", _n_("Handling time (s)"), "seconds", k.product.handling_seconds),
        KpiCard("hours_saved", _n_("Hours saved"), "hours", k.business.hours_saved,
                note=baseline_note),
        KpiCard("net_savings", _n_("Net savings"), "money", k.business.net_savings,
                note=baseline_note),
        KpiCard("roi", _n_("Return on running cost"), "ratio", k.business.roi,
                note=None if k.business.running_cost else _NO_RUNNING_COST),
    ]  # fmt: skip


def charts(report: KpiReport, locale: str) -> list[str]:
    """The weekly report's five charts, titled in the page's language; none without a week."""
    return week_charts(report, locale) if report.weeks else []


def drafting_cards(report: DraftingReport) -> list[KpiCard]:
    """The drafting KPIs of the whole period: faithfulness, hallucination (the checker's and
    the reviewers'), acceptance, edit distance, guardrail firings, consistency and the
    checker's agreement with the reviewers."""
    k = report.overall
    return [
        KpiCard("draft_faithfulness", _n_("Draft faithfulness"), "percent", k.faithfulness),
        KpiCard("draft_unsupported", _n_("Drafts with an unsupported claim"), "percent",
                k.unsupported_claims),
        KpiCard("draft_changed", _n_("Drafts rejected or edited"), "percent", k.reviewer_changes),
        KpiCard("draft_acceptance", _n_("Drafts accepted"), "percent", k.acceptance),
        KpiCard("draft_edit_distance", _n_("Draft edit distance"), "percent", k.edit_distance),
        KpiCard("draft_guardrails", _n_("Draft guardrails"), "percent", k.guardrails.fired),
        KpiCard("draft_consistency", _n_("Consistent answers"), "percent", k.consistency.rate),
        KpiCard("draft_paraphrase_consistency", _n_("Consistent answers, paraphrases included"),
                "percent", k.paraphrase_consistency.rate),
        KpiCard("draft_checker_precision", _n_("Checker precision"), "percent",
                k.checker.precision),
        KpiCard("draft_checker_recall", _n_("Checker recall"), "percent", k.checker.recall),
    ]  # fmt: skip
