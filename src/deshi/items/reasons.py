"""Route reasons as sentences: the one place a `RouteReason` code becomes words.

The engine gives every decision a code and the facts it names (`Decision.reason_params`); the
database and the API keep both. Each code's English sentence is written here once as a msgid and
translated in deshi/locale, so the web UI, the API's `reason` and anything else that explains a
route render the same words. Decisions stored before codes existed keep their English sentence,
which is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from deshi.engine.types import ReasonParam, RouteReason
from deshi.i18n import DEFAULT_LOCALE, MISSING, format_percent, translations

__all__ = ["PARAMS", "REASON_SENTENCES", "route_reason"]

PARAMS = ("confidence", "threshold", "label", "rule")  # every placeholder of the sentences
_SHARES = frozenset({"confidence", "threshold"})  # shown as a percentage; the rest as text


def _n_(message: str) -> str:
    """Mark a msgid for extraction; it is translated when rendered."""
    return message


REASON_SENTENCES: Mapping[RouteReason, str] = {
    RouteReason.AUTO: _n_(
        "Confidence %(confidence)s is at or above the certified threshold %(threshold)s."
    ),
    RouteReason.AUDIT: _n_("Randomly chosen for a blind audit of auto-completed work."),
    RouteReason.BELOW_THRESHOLD: _n_(
        "Confidence %(confidence)s is below the certified threshold %(threshold)s."
    ),
    RouteReason.NO_THRESHOLD: _n_("No threshold is certified yet for this error budget."),
    RouteReason.COLD_START: _n_("Too few reviewed items to train a model yet."),
    RouteReason.NOVEL: _n_("Unlike anything reviewed before (novel input)."),
    RouteReason.RARE_LABEL: _n_("The proposed label has been seen too rarely."),
    RouteReason.SENSITIVE: _n_("The proposed label is marked sensitive: always reviewed."),
    RouteReason.RULE: _n_("An always-human rule matched: %(rule)s."),
    RouteReason.SUSPENDED: _n_("Auto-completion is suspended: audits show the budget at risk."),
}


def _format(name: str, value: ReasonParam, locale: str) -> str:
    if value is None:
        return MISSING
    if name in _SHARES and isinstance(value, int | float):
        return format_percent(float(value), locale=locale)
    return str(value)


def route_reason(
    code: RouteReason | None,
    params: Mapping[str, ReasonParam],
    *,
    locale: str = DEFAULT_LOCALE,
    stored: str = "",
) -> str:
    """Why a decision routed its item where it did, in `locale`.

    `stored` is the English sentence of a decision made before reason codes: it is the answer
    when there is no code. A parameter the sentence needs but `params` lacks shows as a dash.
    """
    if code is None:
        return stored
    values = {name: _format(name, params.get(name), locale) for name in PARAMS}
    return translations(locale).gettext(REASON_SENTENCES[code]) % values
