"""Value objects shared by the engine and its adapters: decisions, routes, evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Final


class Route(StrEnum):
    """Where a decided item goes next."""

    AUTO = "auto"  # auto-completed with the agent's label
    REVIEW = "review"  # a human decides (suggestion shown in assist/autopilot)
    AUDIT = "audit"  # would have been auto-completed; sampled for a blind human check


class RouteReason(StrEnum):
    """Why an item went where it went: a stable code, stored and translated (never a sentence).

    The parameters each code carries in `Decision.reason_params` are listed beside it; the
    sentences live in the i18n catalogue (deshi.items.reasons).
    """

    AUTO = "auto"  # confidence, threshold
    AUDIT = "audit"
    BELOW_THRESHOLD = "below_threshold"  # confidence, threshold
    NO_THRESHOLD = "no_threshold"
    COLD_START = "cold_start"
    NOVEL = "novel"
    RARE_LABEL = "rare_label"  # label
    SENSITIVE = "sensitive"  # label
    RULE = "rule"  # rule: the name of the always-human rule that matched
    SUSPENDED = "suspended"


ReasonParam = str | float | None
ReasonParams = Mapping[str, ReasonParam]


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
    reason_code: RouteReason  # why it routes there; its sentence is the UI's, not the engine's
    model_version: int  # 0 = no trained model yet (memory only)
    threshold: float | None  # auto-complete threshold in force; None = auto-completion off
    reason_params: ReasonParams = field(default_factory=dict)  # see RouteReason

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
            suspended=decision.reason_code is RouteReason.SUSPENDED,
        )

    @property
    def inclusion_probability(self) -> float:
        """Probability that this item received a human label, given how it was routed."""
        return 1.0 if self.route is Route.REVIEW else self.audit_rate


@dataclass(frozen=True, slots=True)
class Bounds:
    """The allowed values of a policy number: the open interval (low, high), or (low, high]."""

    low: float
    high: float
    high_included: bool = False

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int | float) or value <= self.low:
            return False
        return value <= self.high if self.high_included else value < self.high

    def __str__(self) -> str:
        if self.high_included:
            return f"in ({self.low:g}, {self.high:g}]"
        return f"between {self.low:g} and {self.high:g} (exclusive)"

    @property
    def lt(self) -> float | None:
        """The upper bound when excluded (pydantic's `Field(lt=...)`), else None."""
        return None if self.high_included else self.high

    @property
    def le(self) -> float | None:
        """The upper bound when included (pydantic's `Field(le=...)`), else None."""
        return self.high if self.high_included else None


class PolicyError(ValueError):
    """A policy number out of its bounds; `field` names it, `reason` says what is allowed."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field} {reason}")


@dataclass(frozen=True, slots=True)
class Policy:
    """A process owner's risk policy: the error budget ε, the confidence 1 − δ of the guarantee
    that auto-completed items stay within it, and the audit rate. Constructing it validates it.

    The defaults and `BOUNDS` here are the only ones: the API's schemas, the tables' column
    defaults, the engine, the backtest and the CLI all take them from this class.
    """

    error_budget: float = 0.01  # ε: tolerated share of wrong auto-completed items
    confidence: float = 0.95  # 1 − δ
    audit_rate: float = 0.05  # share of would-be-auto items sent to blind review

    BOUNDS: ClassVar[Mapping[str, Bounds]] = {
        "error_budget": Bounds(0, 1),
        "confidence": Bounds(0, 1),
        "audit_rate": Bounds(0, 1, high_included=True),
    }

    def __post_init__(self) -> None:
        for name, bounds in self.BOUNDS.items():
            value = getattr(self, name)
            if value not in bounds:
                raise PolicyError(name, f"must be {bounds}, got {value}")

    @property
    def delta(self) -> float:
        """δ, the allowed probability that the error guarantee fails."""
        return 1.0 - self.confidence


DEFAULT_POLICY: Final = Policy()


# The featurizers an agent can use, by name (deshi.engine.featurize.make_featurizer builds them;
# deshi.domain.FeaturizerName mirrors them for processes).
FEATURIZER_NAMES: Final = ("tfidf", "ja_words", "embeddings", "multilingual")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Process-owner settings and engine knobs. Constructing it validates it."""

    policy: Policy = DEFAULT_POLICY  # ε, 1 − δ and the audit rate
    featurizer: str = "tfidf"  # one of FEATURIZER_NAMES
    sensitive_labels: frozenset[str] = field(default_factory=frozenset)
    retrain_every: int = 200  # new labelled items that trigger a retrain
    seed: int = 0
    training_threads: int | None = None  # deciders a retrain fits at once; None: one per CPU

    def __post_init__(self) -> None:
        if self.training_threads is not None and self.training_threads < 1:
            raise ValueError(f"training_threads must be >= 1, got {self.training_threads}")
        if self.featurizer not in FEATURIZER_NAMES:
            names = ", ".join(repr(name) for name in FEATURIZER_NAMES)
            raise ValueError(f"featurizer must be one of {names}, got {self.featurizer!r}")
        if self.retrain_every < 1:
            raise ValueError(f"retrain_every must be >= 1, got {self.retrain_every}")
