"""Value types of a process: its mode, its stage, and the lifecycle of its model versions."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Mode", "ModelStatus", "Stage"]


class Mode(StrEnum):
    """How much the agent is trusted on a process."""

    SHADOW = "shadow"  # the agent decides silently; humans do all the work
    ASSIST = "assist"  # the suggestion is shown; a human decides
    AUTOPILOT = "autopilot"  # auto-complete within the error budget; hand off the rest


class Stage(StrEnum):
    """Where the process is on its rollout plan."""

    DESIGN = "design"
    LIMITED_PRODUCTION = "limited_production"
    SCALE = "scale"


class ModelStatus(StrEnum):
    """Lifecycle of a trained model version."""

    CHAMPION = "champion"  # the version deciding live items (at most one per process)
    CHALLENGER = "challenger"  # trained, waiting to prove itself on held-out reviewed items
    RETIRED = "retired"
