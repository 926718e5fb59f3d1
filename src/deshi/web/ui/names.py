"""Stored codes as words of the page's language: item status, arm, route and route reason.

The database and the API keep stable codes ("auto_completed", "below_threshold") and the engine's
English sentence for a route; pages show them translated. An unknown code is shown as stored.
"""

from __future__ import annotations

from deshi.i18n import MISSING, format_percent, translations
from deshi.items.models import DecisionPublic
from deshi.kpis.explain import arm_name

__all__ = ["item_arm", "route_name", "route_reason", "status_name"]

RULE_SENTENCE = "An always-human rule matched: "  # how deshi.engine words a rule's reason


def status_name(code: str, *, locale: str) -> str:
    """An item's lifecycle status."""
    _ = translations(locale).gettext
    names = {
        "received": _("received"),
        "decided": _("decided"),
        "auto_completed": _("auto-completed"),
        "queued": _("in the queue"),
        "claimed": _("claimed by a reviewer"),
        "reviewed": _("reviewed"),
        "completed": _("completed"),
    }
    return names.get(code, code)


def item_arm(code: str | None, *, locale: str) -> str:
    """The randomized arm an item was assigned to, if any."""
    return arm_name(code, locale=locale) if code else MISSING


def route_name(code: str, *, locale: str) -> str:
    """Where the agent sent an item."""
    _ = translations(locale).gettext
    names = {
        "auto": _("auto-complete"),
        "review": _("human review"),
        "audit": _("blind audit"),
    }
    return names.get(code, code)


def route_reason(decision: DecisionPublic, *, locale: str) -> str:
    """Why the agent routed the item as it did, from the decision's reason code."""
    _ = translations(locale).gettext
    values = {
        "confidence": format_percent(decision.confidence, locale=locale),
        "threshold": format_percent(decision.threshold, locale=locale),
        "rule": decision.reason.removeprefix(RULE_SENTENCE).removesuffix("."),
    }
    reasons = {
        "auto": _(
            "Confidence %(confidence)s is at or above the certified threshold %(threshold)s."
        ),
        "audit": _("Randomly chosen for a blind audit of auto-completed work."),
        "below_threshold": _(
            "Confidence %(confidence)s is below the certified threshold %(threshold)s."
        ),
        "no_threshold": _("No threshold is certified yet for this error budget."),
        "cold_start": _("Too few reviewed items to train a model yet."),
        "novel": _("Unlike anything reviewed before (novel input)."),
        "rare_label": _("The proposed label has been seen too rarely."),
        "sensitive": _("The proposed label is marked sensitive: always reviewed."),
        "rule": _("An always-human rule matched: %(rule)s."),
        "suspended": _("Auto-completion is suspended: audits show the budget at risk."),
    }
    template = reasons.get(decision.reason_code or "")
    if template is None or (decision.reason_code == "rule" and values["rule"] == decision.reason):
        return decision.reason  # an older decision without a code, or a reason worded otherwise
    return template % values
