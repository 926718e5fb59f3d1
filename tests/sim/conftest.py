"""A scripted stand-in for deshi.engine.Agent, for unit tests of the backtest loop only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from deshi.engine.types import AgentConfig, Decision, Observation, Policy, Route, RouteReason

RouteRule = Callable[[str, int], Route]
SCRIPTED_REASONS = {
    Route.AUTO: RouteReason.AUTO,
    Route.AUDIT: RouteReason.AUDIT,
    Route.REVIEW: RouteReason.BELOW_THRESHOLD,
}


@dataclass(frozen=True)
class FakeRetrainReport:
    promoted: bool
    version: int
    seconds: float = 0.0
    threshold: float | None = None
    expected_automation: float = 0.0


@dataclass
class FakeAgent:
    """Answers with the label it last learned for the same text, else the first label it learned.

    `route_for(text, position)` scripts the route; `retrain_every` labelled observations make it
    due for a retrain, and every retrain is promoted.
    """

    config: AgentConfig
    route_for: RouteRule
    retrain_every: int = 3
    memory: dict[str, str] = field(default_factory=dict)
    recorded: list[Observation] = field(default_factory=list)
    labelled_since_retrain: int = 0
    version: int = 0
    decided: int = 0

    @property
    def due_for_retrain(self) -> bool:
        return self.labelled_since_retrain >= self.retrain_every

    def decide(self, text: str, *, case_id: str) -> Decision:
        fallback = next(iter(self.memory.values()), None)
        label = self.memory.get(text, fallback)
        route = self.route_for(text, self.decided)
        self.decided += 1
        return Decision(
            label=label,
            confidence=0.9,
            alternatives=(),
            evidence=(),
            route=route,
            reason_code=SCRIPTED_REASONS[route],
            model_version=self.version,
            threshold=None if self.version == 0 else 0.5 + self.version / 100,
        )

    def record(self, observation: Observation) -> None:
        self.recorded.append(observation)
        if observation.label is not None:
            self.memory[observation.text] = observation.label
            self.labelled_since_retrain += 1

    def retrain(self) -> FakeRetrainReport:
        self.version += 1
        self.labelled_since_retrain = 0
        threshold = 0.5 + self.version / 100
        return FakeRetrainReport(promoted=True, version=self.version, threshold=threshold)


@pytest.fixture
def make_fake_agent() -> Callable[..., FakeAgent]:
    """Build a FakeAgent; by default it sends everything to review."""

    def make(
        route_for: RouteRule = lambda _text, _position: Route.REVIEW, **kwargs: int
    ) -> FakeAgent:
        config = AgentConfig(policy=Policy(audit_rate=0.1))
        return FakeAgent(config=config, route_for=route_for, **kwargs)

    return make
