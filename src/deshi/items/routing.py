"""Where a decided item goes: the process mode, the item's arm and always-human rules (pure).

The engine proposes a route (auto | review | audit); the process decides what is done with it:

    mode / arm                    auto              review            audit
    shadow                        queued, blind     queued, blind     queued, blind
    assist, or arm 'assisted'     queued            queued            queued, blind
    autopilot (arm 'ai_led')      auto_completed    queued            queued, blind
    arm 'human_only' (any mode)   queued, blind     queued, blind     queued, blind

Always-human rules are not applied here: `deshi.learning.service.decide_items` passes the
matched rule into the engine call, and the engine routes the item to `review` (RouteReason.RULE).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from deshi.domain import ItemStatus, Mode
from deshi.engine import Route
from deshi.items.arms import assign_arm as draw_arm

__all__ = [
    "AI_LED",
    "ASSISTED",
    "HUMAN_ONLY",
    "assign_arm",
    "initial_status",
    "served_blind",
]

HUMAN_ONLY = "human_only"
ASSISTED = "assisted"
AI_LED = "ai_led"


def assign_arm(arms: Mapping[str, Any], key: str) -> str | None:
    """A stable random arm for the item keyed `key` by the process's arm shares (None: no arms).

    The draw is `deshi.items.arms.assign_arm`, whose proportions and independence from the item's
    content are what the KPI tests check.
    """
    shares = {name: share for name, share in _finite_shares(arms).items() if share > 0}
    return draw_arm(key, shares) if shares else None


def _finite_shares(arms: Mapping[str, Any]) -> dict[str, float]:
    """The arms whose share is a finite number; shares stored before arms were validated on
    input (r0010, 2026-12-05) may be anything, and must not stop every ingest."""
    shares: dict[str, float] = {}
    for name, share in arms.items():
        try:
            value = float(share)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            shares[name] = value
    return shares


def initial_status(mode: Mode, route: Route, arm: str | None) -> ItemStatus:
    """Auto-complete only in autopilot (and never in the human-only or assisted arms)."""
    autopilot = mode is Mode.AUTOPILOT and arm not in (HUMAN_ONLY, ASSISTED)
    if autopilot and route is Route.AUTO:
        return ItemStatus.AUTO_COMPLETED
    return ItemStatus.QUEUED


def served_blind(mode: Mode, route: Route, arm: str | None) -> bool:
    """True when the reviewer must not see the agent's suggestion."""
    return mode is Mode.SHADOW or route is Route.AUDIT or arm == HUMAN_ONLY
