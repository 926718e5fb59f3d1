"""The learning core: pure, typed, no database or web imports.

`Agent` decides items and learns from human answers; `AgentConfig` holds the process owner's
error budget; `Decision` is what the agent says about an item and why it routes it where it does.
"""

from deshi.engine.agent import Agent, RetrainReport
from deshi.engine.learn import Decider, LinearDecider
from deshi.engine.model import TrainedModel
from deshi.engine.policy import MonitorState, RouteReason
from deshi.engine.types import (
    AgentConfig,
    Alternative,
    Case,
    Decision,
    Observation,
    Route,
)

__all__ = [
    "Agent",
    "AgentConfig",
    "Alternative",
    "Case",
    "Decider",
    "Decision",
    "LinearDecider",
    "MonitorState",
    "Observation",
    "RetrainReport",
    "Route",
    "RouteReason",
    "TrainedModel",
]
