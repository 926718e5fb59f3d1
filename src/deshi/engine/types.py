"""Value objects shared by the engine and its adapters: decisions, routes, evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Route(StrEnum):
    """Where a decided item goes next."""

    AUTO = "auto"  # auto-completed with the agent's label
    REVIEW = "review"  # a human decides (suggestion shown in assist/autopilot)
    AUDIT = "audit"  # would have been auto-completed; sampled for a blind human check


@dataclass(frozen=True, slots=True)
class Alternative:
    """A candidate label with the agent's probability for it."""

    label: str
    probability: float


@dataclass(frozen=True, slots=True)
class Case:
    """A reviewed past item returned as evidence for a decision."""

    case_id: str
    text: str
    label: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything the agent says about one item, and why it routes it where it does."""

    label: str | None  # None only when the agent has seen no labelled item at all
    confidence: float  # estimated probability that `label` is right, in [0, 1]
    alternatives: tuple[Alternative, ...]  # best first, includes `label`
    evidence: tuple[Case, ...]  # nearest reviewed cases, most similar first
    route: Route
    reason: str  # one human-readable sentence
    model_version: int  # 0 = no trained model yet (memory only)
    threshold: float | None  # auto-complete threshold in force; None = auto-completion off
    reason_code: str = ""  # machine-readable reason (see deshi.engine.policy.RouteReason)

    @property
    def would_auto(self) -> bool:
        """True when the policy put the item above the threshold (auto or audit)."""
        return self.route in (Route.AUTO, Route.AUDIT)


@dataclass(frozen=True, slots=True)
class Observation:
    """One decided item as the learner later sees it.

    `label` is the final human label for reviewed and audited items and None for auto-completed
    ones (their truth is unknown). `route` is the live route, from which the probability that
    the item was labelled follows: 1 for review, the audit rate for auto/audit.
    """

    case_id: str
    text: str
    route: Route
    label: str | None
    audit_rate: float  # the audit rate in force when the item was decided
    entity: str | None = None
    predicted_label: str | None = None  # the agent's label at decision time
    confidence: float | None = None  # the agent's confidence at decision time
    model_version: int = 0  # the model that decided it
    suspended: bool = False  # decided while autopilot was suspended (a would-be-auto item)

    @classmethod
    def from_decision(
        cls,
        *,
        case_id: str,
        text: str,
        decision: Decision,
        label: str | None,
        audit_rate: float,
        entity: str | None = None,
    ) -> Observation:
        """The observation of a decided item; `label` is the human's answer (None if auto)."""
        return cls(
            case_id=case_id,
            text=text,
            route=decision.route,
            label=label,
            audit_rate=audit_rate,
            entity=entity,
            predicted_label=decision.label,
            confidence=decision.confidence,
            model_version=decision.model_version,
            suspended=decision.reason_code == "suspended",
        )

    @property
    def inclusion_probability(self) -> float:
        """Probability that this item received a human label, given how it was routed."""
        return 1.0 if self.route is Route.REVIEW else self.audit_rate


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Process-owner settings and engine knobs. Constructing it validates it."""

    error_budget: float = 0.01  # ε: tolerated share of wrong auto-completed items
    confidence: float = 0.95  # 1 − δ
    audit_rate: float = 0.05  # share of would-be-auto items sent to blind review
    featurizer: str = "tfidf"  # "tfidf" or "embeddings"
    sensitive_labels: frozenset[str] = field(default_factory=frozenset)
    retrain_every: int = 200  # new labelled items that trigger a retrain
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.error_budget < 1.0:
            raise ValueError(f"error_budget must be in (0, 1), got {self.error_budget}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if not 0.0 < self.audit_rate <= 1.0:
            raise ValueError(f"audit_rate must be in (0, 1], got {self.audit_rate}")
        if self.featurizer not in ("tfidf", "embeddings"):
            raise ValueError(f"featurizer must be 'tfidf' or 'embeddings', got {self.featurizer!r}")
        if self.retrain_every < 1:
            raise ValueError(f"retrain_every must be >= 1, got {self.retrain_every}")

    @property
    def delta(self) -> float:
        """δ, the allowed probability that the error guarantee fails."""
        return 1.0 - self.confidence
