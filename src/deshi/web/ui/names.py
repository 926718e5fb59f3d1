"""Stored codes as words of the page's language: item status, arm, route, route reason and a
draft's notes.

The database and the API keep stable codes ("auto_completed", "below_threshold"); pages show them
translated. An unknown code is shown as stored.
"""

from __future__ import annotations

from deshi.drafting.models import NotePublic
from deshi.i18n import MISSING, translations
from deshi.items import reasons
from deshi.items.models import DecisionPublic
from deshi.kpis.explain import arm_name

__all__ = ["draft_note", "item_arm", "route_name", "route_reason", "status_name"]


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
    """Why the agent routed the item as it did (deshi.items.reasons has the sentences)."""
    return reasons.route_reason(
        decision.reason_code, decision.reason_params, locale=locale, stored=decision.reason
    )


def draft_note(note: NotePublic, *, locale: str) -> str:
    """One of a draft's notes in the viewer's language (deshi.drafting.notes has the
    sentences)."""
    return note.sentence(locale)
