"""KPI early warnings and recommendation reasons in a page's language.

The kpis package gives every such sentence a stable `code`, its `params` and an English
`message` (for logs and the API). Here each code has a msgid with named placeholders (translated
in deshi/locale) and the kind of each parameter, so numbers are formatted for the locale. The web
UI and the weekly report both explain through this table. A code or a parameter it does not know
(say, a new warning) shows the English message rather than nothing;
tests/kpis/test_kpis_explain.py keeps the msgids equal to the kpis messages in English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from deshi.i18n import format_number, format_percent, translations

__all__ = ["SENTENCES", "Said", "Sentence", "arm_name", "explain"]

# How a parameter is shown: as given, an integer, a share with 0, 1 or 2 decimals, an amount
# with 2 decimals, or a process stage (a msgid of its own).
Kind = Literal["text", "count", "percent0", "percent1", "percent2", "amount", "stage"]


class Said(Protocol):
    """A warning or a reason as the kpis service returns it."""

    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def params(self) -> Mapping[str, str | int | float]: ...


@dataclass(frozen=True, slots=True)
class Sentence:
    """The msgid of a code and the kind of each placeholder in it."""

    msgid: str
    kinds: Mapping[str, Kind] = field(default_factory=dict)


def _n_(message: str) -> str:
    """Mark a msgid for extraction; it is translated when rendered."""
    return message


_FROM_TO: Mapping[str, Kind] = {"weeks": "count", "from": "count", "to": "count"}
_DRIFT: Mapping[str, Kind] = {"from": "percent1", "to": "percent1"}
_AUTO_ERROR: Mapping[str, Kind] = {
    "error": "percent2", "lower_bound": "percent2", "budget": "percent2",
}  # fmt: skip
_WEEKS: Mapping[str, Kind] = {"weeks_observed": "count", "weeks_required": "count"}
_MONEY: Mapping[str, Kind] = {"value": "amount", "low": "amount", "currency": "text"}
_BUDGET: Mapping[str, Kind] = {
    "errors": "count", "audits": "count", "upper_bound": "percent2", "lower_bound": "percent2",
    "budget": "percent2",
}  # fmt: skip
_PACE: Mapping[str, Kind] = {"audits": "count", "rate": "percent0", "weeks": "count"}
_INPUT_DRIFT: Mapping[str, Kind] = {
    "items": "count", "psi": "text", "psi_threshold": "text", "novel": "percent1",
    "expected": "percent1",
}  # fmt: skip
_GO_LIVE: Mapping[str, Kind] = {
    "items": "count", "budget": "percent2", "automation": "percent1",
    "automation_low": "percent1", "automation_high": "percent1", "error": "percent1",
    "error_low": "percent1", "error_high": "percent1", "error_upper": "percent1",
}  # fmt: skip

# Keyed by code, or "code:variant" where one code has two sentences (see `_key`).
SENTENCES: dict[str, Sentence] = {
    # early warnings (deshi.kpis.warnings)
    "no_owner": Sentence(_n_("The process has no owner.")),
    "no_baseline": Sentence(
        _n_("No human-only baseline after %(days)s days; savings cannot be measured."),
        {"days": "count"},
    ),
    "stage_overdue": Sentence(
        _n_("Stage '%(stage)s' is %(days_late)s day(s) past its planned end (%(planned_end)s)."),
        {"stage": "stage", "days_late": "count", "planned_end": "text"},
    ),
    "backlog_growing": Sentence(
        _n_(
            "The review backlog grew for %(weeks)s weeks in a row (%(from)s to %(to)s open items)."
        ),
        _FROM_TO,
    ),
    "feedback_falling": Sentence(
        _n_(
            "Feedback is drying up: reviews per week fell from %(from)s to %(to)s "
            "over %(weeks)s weeks."
        ),
        _FROM_TO,
    ),
    "acceptance_drift": Sentence(_n_("Acceptance fell from %(from)s to %(to)s."), _DRIFT),
    "accuracy_drift": Sentence(_n_("Accuracy fell from %(from)s to %(to)s."), _DRIFT),
    "error_budget_broken": Sentence(
        _n_(
            "Error budget broken: auto-complete error is at least %(lower_bound)s "
            "(budget %(budget)s)."
        ),
        _AUTO_ERROR,
    ),
    "error_budget_at_risk": Sentence(
        _n_("Error budget at risk: auto-complete error %(error)s against a budget of %(budget)s."),
        _AUTO_ERROR,
    ),
    "autopilot_suspended": Sentence(_n_("Autopilot is suspended; all items go to human review.")),
    "input_drift": Sentence(
        _n_(
            "Live items no longer resemble the history (last %(items)s items): score shift "
            "PSI %(psi)s (alarm at %(psi_threshold)s), novel inputs %(novel)s (history "
            "%(expected)s). The error guarantee assumes they do; the audit monitor keeps watching."
        ),
        _INPUT_DRIFT,
    ),
    "autopilot_suspended:why": Sentence(
        _n_("Autopilot is suspended (%(reason)s); all items go to human review."),
        {"reason": "text"},
    ),
    # the go-live check's verdict (deshi.history.golive)
    "golive_holds": Sentence(
        _n_(
            "Would auto-complete %(automation)s (%(automation_low)s–%(automation_high)s) of the "
            "last %(items)s history items with %(error)s (%(error_low)s–%(error_high)s) wrong: "
            "within the %(budget)s budget (upper bound %(error_upper)s)."
        ),
        _GO_LIVE,
    ),
    "golive_uncertain": Sentence(
        _n_(
            "Would auto-complete %(automation)s (%(automation_low)s–%(automation_high)s) of the "
            "last %(items)s history items with %(error)s (%(error_low)s–%(error_high)s) wrong: "
            "within the %(budget)s budget on the estimate, but too few items to be sure "
            "(upper bound %(error_upper)s)."
        ),
        _GO_LIVE,
    ),
    "golive_breaks": Sentence(
        _n_(
            "Would auto-complete %(automation)s (%(automation_low)s–%(automation_high)s) of the "
            "last %(items)s history items with %(error)s (%(error_low)s–%(error_high)s) wrong: "
            "the %(budget)s budget would not hold."
        ),
        _GO_LIVE,
    ),
    "golive_nothing_automated": Sentence(
        _n_(
            "Would auto-complete none of the last %(items)s history items: no threshold keeps "
            "the error within the %(budget)s budget on the older history."
        ),
        {"items": "count", "budget": "percent2"},
    ),
    "golive_too_little_history": Sentence(
        _n_(
            "Too little history for a go-live check: %(history)s item(s), at least %(needed)s "
            "needed."
        ),
        {"history": "count", "needed": "count"},
    ),
    # scale / hold / stop reasons (deshi.kpis.recommend)
    "not_enough_weeks": Sentence(
        _n_("Only %(weeks_observed)s of %(weeks_required)s required week(s) observed."), _WEEKS
    ),
    "not_enough_weeks:none": Sentence(
        _n_("No week observed yet; %(weeks_required)s required."), {"weeks_required": "count"}
    ),
    "savings_unmeasured": Sentence(_n_("Net savings cannot be measured yet.")),
    "budget_unmeasured": Sentence(
        _n_("No auto-completed item was audited yet, so the error budget cannot be judged.")
    ),
    "acceptance_unmeasured": Sentence(
        _n_("Acceptance cannot be measured yet: no suggestion was reviewed.")
    ),
    "savings_positive": Sentence(
        _n_(
            "Net savings over the period are positive with confidence: "
            "at least %(low)s %(currency)s."
        ),
        _MONEY,
    ),
    "savings_not_proven": Sentence(
        _n_(
            "Net savings over the period are %(value)s %(currency)s but not yet positive "
            "with confidence (lower bound %(low)s %(currency)s)."
        ),
        _MONEY,
    ),
    "savings_negative": Sentence(
        _n_(
            "Net savings over the period are negative with confidence: "
            "at most %(high)s %(currency)s."
        ),
        {"high": "amount", "currency": "text"},
    ),
    "budget_holds": Sentence(
        _n_(
            "Auto-complete error is within budget: %(errors)s error(s) in %(audits)s audits, "
            "upper bound %(upper_bound)s <= %(budget)s."
        ),
        _BUDGET,
    ),
    "budget_not_proven": Sentence(
        _n_(
            "Auto-complete error is not yet proven within budget: %(errors)s error(s) in "
            "%(audits)s audits, upper bound %(upper_bound)s > %(budget)s."
        ),
        _BUDGET,
    ),
    "budget_broken": Sentence(
        _n_(
            "Error budget broken: %(errors)s error(s) in %(audits)s audits, "
            "lower bound %(lower_bound)s > %(budget)s."
        ),
        _BUDGET,
    ),
    "acceptance_met": Sentence(
        _n_("Acceptance over the period is %(value)s, meeting the target %(target)s."),
        {"value": "percent1", "target": "percent1"},
    ),
    "acceptance_below_target": Sentence(
        _n_("Acceptance over the period is %(value)s, below the target %(target)s."),
        {"value": "percent1", "target": "percent1"},
    ),
    "audits_needed": Sentence(
        _n_(
            "%(audits)s more error-free audits prove the budget; at the current audit rate "
            "(%(rate)s) and volume that is about %(weeks)s week(s); raising the audit rate to "
            "%(raised_rate)s makes it about %(raised_weeks)s week(s)."
        ),
        {**_PACE, "raised_rate": "percent0", "raised_weeks": "count"},
    ),
    "audits_needed:current": Sentence(
        _n_(
            "%(audits)s more error-free audits prove the budget; at the current audit rate "
            "(%(rate)s) and volume that is about %(weeks)s week(s)."
        ),
        _PACE,
    ),
    "audits_needed:no_pace": Sentence(
        _n_(
            "%(audits)s more error-free audits prove the budget; no audit was drawn in "
            "recent weeks, so none will come at this pace."
        ),
        {"audits": "count"},
    ),
}

# The process stages a `stage` parameter names, marked for translation.
STAGES = (_n_("design"), _n_("limited_production"), _n_("scale"))


def _key(said: Said) -> str:
    """The SENTENCES key: a few codes read differently depending on their parameters."""
    if said.code == "autopilot_suspended" and said.params.get("reason"):
        return "autopilot_suspended:why"
    if said.code == "not_enough_weeks" and said.params.get("weeks_observed") == 0:
        return "not_enough_weeks:none"
    if said.code == "audits_needed" and "raised_rate" not in said.params:
        return "audits_needed:current" if "weeks" in said.params else "audits_needed:no_pace"
    return said.code


def _format(kind: Kind, value: str | int | float, locale: str) -> str:
    if kind == "text":
        return str(value)
    if kind == "stage":
        return translations(locale).gettext(str(value))
    if kind == "count":
        return str(int(value))  # as the English messages show counts: no grouping
    if kind == "amount":
        return format_number(float(value), locale=locale, digits=2)
    digits = {"percent0": 0, "percent1": 1}.get(kind, 2)
    return format_percent(float(value), locale=locale, digits=digits)


def arm_name(code: str, *, locale: str) -> str:
    """A randomized arm's name for readers ('human_only' → 'human only'); unknown codes as is."""
    gettext = translations(locale).gettext
    names = {
        "human_only": gettext("human only"),
        "assisted": gettext("AI-assisted"),
        "ai_led": gettext("AI-led"),
    }
    return names.get(code, code)


def explain(said: Said, *, locale: str) -> str:
    """The sentence in `locale`; its English message when the code or its params are unknown."""
    sentence = SENTENCES.get(_key(said))
    if sentence is None:
        return said.message
    try:
        values = {
            name: _format(kind, said.params[name], locale) for name, kind in sentence.kinds.items()
        }
    except (KeyError, TypeError, ValueError):  # params of another shape: keep the English
        return said.message
    return translations(locale).gettext(sentence.msgid) % values
