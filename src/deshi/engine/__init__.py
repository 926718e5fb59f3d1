"""The learning core: pure, typed, no database or web imports.

`Agent` decides items and learns from human answers; `AgentConfig` holds the process owner's
`Policy` (error budget, confidence, audit rate) and the engine's knobs; `Decision` is what the
agent says about an item and why it routes it where it does.
"""

from deshi.engine.agent import Agent, RetrainReport
from deshi.engine.learn import Decider, LinearDecider
from deshi.engine.model import TrainedModel
from deshi.engine.policy import MonitorState
from deshi.engine.types import (
    DEFAULT_POLICY,
    AgentConfig,
    Alternative,
    Case,
    Decision,
    Observation,
    Policy,
    PolicyError,
    Route,
    RouteReason,
)

__all__ = [
    "DEFAULT_POLICY",
    "Agent",
    "AgentConfig",
    "Alternative",
    "Case",
    "Decider",
    "Decision",
    "LinearDecider",
    "MonitorState",
    "Observation",
    "Policy",
    "PolicyError",
    "RetrainReport",
    "Route",
    "RouteReason",
    "TrainedModel",
]
