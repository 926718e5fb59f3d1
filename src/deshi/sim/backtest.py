"""Replay labelled history through a learning agent as if it were a live stream.

Each item is decided by the agent as it stands at that moment. Items routed to review or audit
are answered by a simulated reviewer who gives the true label, and the agent learns from them
exactly as in production; auto-completed items teach nothing (recorded with label=None). Because
the simulation knows the truth of auto-completed items, their realized error is exact.

With a history (`run_backtest(..., history=...)`, `deshi backtest LIVE --history HISTORY`), the
agent first takes the history in as reviewed items, retrains once on it (the warm start), and
only then is the live stream replayed; the figures are the live stream's. With
`label_audit=True` the history's labels are audited first (`deshi.engine.label_audit`, the audit
`deshi import` runs): the suspects and the estimated label noise are reported under the history.
A backtest never knows which history labels are truly wrong, so these are what the audit found,
not its precision. The audit is timed on its own, outside the replay's `seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from deshi.engine.label_audit import CONFLICTING_DUPLICATE, MODEL_DISAGREES, find_suspects
from deshi.engine.stats import clopper_pearson_upper
from deshi.engine.types import DEFAULT_POLICY, AgentConfig, Decision, Observation, Policy, Route
from deshi.sim.dataset import Dataset, LabelledItem

__all__ = [
    "BOUND_CONFIDENCE",
    "BacktestAgent",
    "BacktestProgress",
    "BacktestResult",
    "BacktestSettings",
    "HistoryAudit",
    "HistoryStats",
    "SuspectRow",
    "WindowStats",
    "audit_history",
    "run_backtest",
    "take_in_history",
]

BOUND_CONFIDENCE = 0.95  # level of the reported one-sided upper bound on the auto error
MOST_SUSPICIOUS = 10  # history rows listed by the label audit's figures


class RetrainReport(Protocol):
    """What the backtest reads from `agent.retrain()`."""

    @property
    def promoted(self) -> bool: ...

    @property
    def threshold(self) -> float | None: ...

    @property
    def expected_automation(self) -> float: ...


class BacktestAgent(Protocol):
    """The part of `deshi.engine.Agent` that a backtest drives."""

    @property
    def config(self) -> AgentConfig: ...

    @property
    def due_for_retrain(self) -> bool: ...

    def decide(self, text: str, *, case_id: str) -> Decision: ...

    def record(self, observation: Observation) -> None: ...

    def retrain(self) -> RetrainReport: ...


@dataclass(frozen=True, slots=True)
class BacktestSettings:
    """How to run a backtest. Constructing it validates it (ValueError with a one-line message)."""

    policy: Policy = DEFAULT_POLICY  # ε, 1 − δ and the audit rate (validated by Policy)
    featurizer: str = "tfidf"
    seed: int | None = None  # shuffle seed; None = file order (the agent then uses seed 0)
    window: int = 500  # items per window of the learning curve

    def __post_init__(self) -> None:
        self.agent_config()  # AgentConfig validates the featurizer
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")

    def agent_config(self) -> AgentConfig:
        """The engine configuration these settings stand for."""
        return AgentConfig(policy=self.policy, featurizer=self.featurizer, seed=self.seed or 0)


@dataclass(frozen=True, slots=True)
class BacktestProgress:
    """Figures so far, handed to the progress callback after every item."""

    done: int
    total: int
    auto: int
    elapsed: float

    @property
    def automation_rate(self) -> float:
        """Share of the items so far that were auto-completed."""
        return self.auto / self.done if self.done else 0.0


ProgressCallback = Callable[[BacktestProgress], None]


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Counts for one consecutive slice of the stream, [start, end) in stream positions."""

    start: int
    end: int
    auto: int  # auto-completed (route AUTO)
    auto_errors: int  # auto-completed with a label different from the truth
    correct: int  # items, whatever their route, where the agent's label matched the truth
    threshold: float | None  # in force at the window's last item; None = auto-completion off
    model_version: int  # in force at the window's last item

    @property
    def items(self) -> int:
        """Number of items in the window."""
        return self.end - self.start

    @property
    def automation(self) -> float:
        """Share of the window's items that were auto-completed."""
        return self.auto / self.items

    @property
    def error(self) -> float | None:
        """Realized error among the window's auto-completed items; None when there were none."""
        return self.auto_errors / self.auto if self.auto else None

    @property
    def accuracy(self) -> float:
        """Share of the window's items the agent labelled right (its suggestion, on every route)."""
        return self.correct / self.items

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "start": self.start,
            "end": self.end,
            "items": self.items,
            "auto": self.auto,
            "automation": self.automation,
            "error": self.error,
            "accuracy": self.accuracy,
            "threshold": self.threshold,
            "model_version": self.model_version,
        }


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """What happened over the whole replay. `human_reviews` counts audits too."""

    settings: BacktestSettings
    items: int
    auto: int
    auto_errors: int
    human_reviews: int
    audits: int
    correct: int
    retrains: int
    promotions: int
    seconds: float
    windows: tuple[WindowStats, ...]
    source: str = ""
    labels: tuple[str, ...] = ()
    skipped_blank: int = 0
    skipped_unlabelled: int = 0
    first_auto_index: int | None = None  # 0-based stream position of the first auto-completion
    history: HistoryStats | None = None  # the warm start, when a history was taken in first

    @property
    def automation_rate(self) -> float:
        """Share of items auto-completed."""
        return self.auto / self.items if self.items else 0.0

    @property
    def auto_error_rate(self) -> float:
        """Realized error among auto-completed items (exact: the simulation knows the truth)."""
        return self.auto_errors / self.auto if self.auto else 0.0

    @property
    def auto_error_upper(self) -> float:
        """One-sided Clopper-Pearson upper bound (level BOUND_CONFIDENCE) on the auto error."""
        return clopper_pearson_upper(self.auto_errors, self.auto, 1.0 - BOUND_CONFIDENCE)

    @property
    def within_budget(self) -> bool:
        """True when the upper bound on the auto error is at most the error budget ε."""
        return self.auto_error_upper <= self.settings.policy.error_budget

    @property
    def accuracy(self) -> float:
        """Share of all items where the agent's label matched the truth."""
        return self.correct / self.items if self.items else 0.0

    @property
    def throughput_items_per_s(self) -> float:
        """Items decided per second of wall-clock time, retraining included."""
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def final_threshold(self) -> float | None:
        """The threshold in force at the end of the stream."""
        return self.windows[-1].threshold if self.windows else None

    @property
    def final_model_version(self) -> int:
        """The model version in force at the end of the stream."""
        return self.windows[-1].model_version if self.windows else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: headline figures, the configuration echoed, and the windows."""
        settings, policy = self.settings, self.settings.policy
        return {
            "source": self.source,
            "items": self.items,
            "auto": self.auto,
            "automation_rate": self.automation_rate,
            "auto_errors": self.auto_errors,
            "auto_error_rate": self.auto_error_rate,
            "auto_error_upper": self.auto_error_upper,
            "auto_error_upper_confidence": BOUND_CONFIDENCE,
            "within_budget": self.within_budget,
            "human_reviews": self.human_reviews,
            "audits": self.audits,
            "accuracy": self.accuracy,
            "throughput_items_per_s": self.throughput_items_per_s,
            "seconds": self.seconds,
            "retrains": self.retrains,
            "promotions": self.promotions,
            "final_threshold": self.final_threshold,
            "final_model_version": self.final_model_version,
            "skipped_blank": self.skipped_blank,
            "skipped_unlabelled": self.skipped_unlabelled,
            "labels": list(self.labels),
            "error_budget": policy.error_budget,
            "confidence": policy.confidence,
            "audit_rate": policy.audit_rate,
            "seed": settings.seed,
            "featurizer": settings.featurizer,
            "window": settings.window,
            "first_auto_index": self.first_auto_index,
            "history": self.history.to_dict() if self.history is not None else None,
            "windows": [window.to_dict() for window in self.windows],
        }


@dataclass(frozen=True, slots=True)
class HistoryStats:
    """What the warm start took in and what the retrain on it certified."""

    source: str
    items: int
    labels: int
    threshold: float | None  # certified on the history; None = no threshold passed
    expected_automation: float  # share of the history at or above that threshold
    seconds: float  # taking the history in and retraining on it
    label_audit: HistoryAudit | None = None  # None: not asked for (`--no-audit`)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "source": self.source,
            "items": self.items,
            "labels": self.labels,
            "threshold": self.threshold,
            "expected_automation": self.expected_automation,
            "seconds": self.seconds,
            "label_audit": self.label_audit.to_dict() if self.label_audit is not None else None,
        }


@dataclass(frozen=True, slots=True)
class SuspectRow:
    """A history row whose label looks wrong, as the figures list it."""

    case_id: str
    label: str
    suggested_label: str | None
    score: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "case_id": self.case_id,
            "label": self.label,
            "suggested_label": self.suggested_label,
            "score": round(self.score, 4),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class HistoryAudit:
    """What the label audit found in the history: rows flagged (by either signal), each
    signal's count, the estimated label noise (the model's flags over the rows; None when the
    history has too few rows or labels to audit) and the most suspicious rows."""

    rows: int
    audited: bool
    flagged: int
    model_disagrees: int
    conflicting_duplicates: int
    estimated_noise: float | None
    most_suspicious: tuple[SuspectRow, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "rows": self.rows,
            "audited": self.audited,
            "flagged": self.flagged,
            "model_disagrees": self.model_disagrees,
            "conflicting_duplicates": self.conflicting_duplicates,
            "estimated_noise": self.estimated_noise,
            "most_suspicious": [row.to_dict() for row in self.most_suspicious],
            "seconds": self.seconds,
        }


@dataclass(slots=True)
class _Counts:
    """Running counts of decided items, for the whole stream or one window."""

    items: int = 0
    auto: int = 0
    auto_errors: int = 0
    reviews: int = 0
    audits: int = 0
    correct: int = 0

    def add(self, decision: Decision, truth: str) -> None:
        """Count one decided item whose true label is `truth`."""
        right = decision.label == truth
        self.items += 1
        self.correct += right
        if decision.route is Route.AUTO:
            self.auto += 1
            self.auto_errors += not right
        else:
            self.reviews += 1
            self.audits += decision.route is Route.AUDIT


@dataclass(slots=True)
class _Replay:
    """State of a replay in progress: totals, the open window, the closed ones, retrains."""

    total: _Counts = field(default_factory=_Counts)
    window: _Counts = field(default_factory=_Counts)
    closed: list[WindowStats] = field(default_factory=list)
    retrains: int = 0
    promotions: int = 0
    first_auto_index: int | None = None

    def add(self, decision: Decision, truth: str) -> None:
        """Count one decided item in the totals and in the open window."""
        if self.first_auto_index is None and decision.route is Route.AUTO:
            self.first_auto_index = self.total.items
        self.total.add(decision, truth)
        self.window.add(decision, truth)

    def close_window(self, last: Decision) -> None:
        """Freeze the open window, `last` being its final decision, and open the next one."""
        start = self.total.items - self.window.items
        self.closed.append(
            WindowStats(
                start=start,
                end=self.total.items,
                auto=self.window.auto,
                auto_errors=self.window.auto_errors,
                correct=self.window.correct,
                threshold=last.threshold,
                model_version=last.model_version,
            )
        )
        self.window = _Counts()


def run_backtest(
    dataset: Dataset,
    *,
    settings: BacktestSettings,
    agent: BacktestAgent | None = None,
    history: Dataset | None = None,
    label_audit: bool = False,
    on_progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> BacktestResult:
    """Replay the dataset's items in order through `agent` (a fresh engine Agent by default),
    after taking in `history` (if given) as reviewed items and retraining on it; with
    `label_audit`, the history's labels are audited first (timed apart from the replay).

    Never prints; `on_progress` is called after every live item.
    """
    agent = agent if agent is not None else _engine_agent(settings)
    audit = (
        audit_history(history, featurizer=settings.featurizer, clock=clock)
        if history is not None and label_audit
        else None
    )
    items = dataset.items
    replay = _Replay()
    started = clock()
    past = history.items if history is not None else ()
    # Embed the texts in batches up front (embeddings depend on no other item); counted in the time.
    _warm_embeddings(settings.featurizer, [item.text for item in (*past, *items)])
    warm_start = take_in_history(agent, history, clock=clock) if history is not None else None
    if warm_start is not None and audit is not None:
        warm_start = replace(warm_start, label_audit=audit)
    for position, item in enumerate(items, start=1):
        decision = _replay_one(agent, item, replay)
        if position % settings.window == 0 or position == len(items):
            replay.close_window(decision)
        if on_progress is not None:
            on_progress(
                BacktestProgress(position, len(items), replay.total.auto, clock() - started)
            )
    seconds = clock() - started
    return _result(dataset, settings, replay, seconds, warm_start)


def take_in_history(
    agent: BacktestAgent, history: Dataset, *, clock: Callable[[], float] = time.perf_counter
) -> HistoryStats:
    """Record every history item as reviewed (a person gave its label), then retrain once: the
    threshold the live stream starts with is certified on the history, cross-fitted."""
    started = clock()
    for item in history.items:
        agent.record(
            Observation(
                case_id=item.case_id,
                text=item.text,
                route=Route.REVIEW,
                label=item.label,
                audit_rate=1.0,  # a reviewed item was labelled for certain
            )
        )
    report = agent.retrain()
    return HistoryStats(
        source=history.source,
        items=len(history.items),
        labels=len(history.labels),
        threshold=report.threshold,
        expected_automation=report.expected_automation,
        seconds=clock() - started,
    )


def audit_history(
    history: Dataset, *, featurizer: str, clock: Callable[[], float] = time.perf_counter
) -> HistoryAudit:
    """Audit the history's labels as `deshi import` does (same signals and cut-offs)."""
    started = clock()
    rows = history.items
    found = find_suspects(
        [item.text for item in rows], [item.label for item in rows], featurizer=featurizer
    )
    ranked = sorted(found.suspects, key=lambda suspect: (-suspect.score, suspect.index))
    return HistoryAudit(
        rows=found.rows,
        audited=found.audited,
        flagged=len(found.suspects),
        model_disagrees=found.with_reason(MODEL_DISAGREES),
        conflicting_duplicates=found.with_reason(CONFLICTING_DUPLICATE),
        estimated_noise=found.noise_rate,
        most_suspicious=tuple(
            SuspectRow(
                case_id=rows[suspect.index].case_id,
                label=rows[suspect.index].label,
                suggested_label=suspect.suggested,
                score=suspect.score,
                reasons=suspect.reasons,
            )
            for suspect in ranked[:MOST_SUSPICIOUS]
        ),
        seconds=clock() - started,
    )


def _result(
    dataset: Dataset,
    settings: BacktestSettings,
    replay: _Replay,
    seconds: float,
    history: HistoryStats | None = None,
) -> BacktestResult:
    """Freeze a finished replay into its result."""
    total = replay.total
    return BacktestResult(
        settings=settings,
        items=total.items,
        auto=total.auto,
        auto_errors=total.auto_errors,
        human_reviews=total.reviews,
        audits=total.audits,
        correct=total.correct,
        retrains=replay.retrains,
        promotions=replay.promotions,
        seconds=seconds,
        windows=tuple(replay.closed),
        source=dataset.source,
        labels=dataset.labels,
        skipped_blank=dataset.skipped_blank_text,
        skipped_unlabelled=dataset.skipped_blank_label,
        first_auto_index=replay.first_auto_index,
        history=history,
    )


def _replay_one(agent: BacktestAgent, item: LabelledItem, replay: _Replay) -> Decision:
    """Decide one item, let the simulated reviewer answer it if routed to a human, learn."""
    decision = agent.decide(item.text, case_id=item.case_id)
    replay.add(decision, item.label)
    human_label = None if decision.route is Route.AUTO else item.label
    agent.record(
        Observation.from_decision(
            case_id=item.case_id,
            text=item.text,
            decision=decision,
            label=human_label,
            audit_rate=agent.config.policy.audit_rate,
        )
    )
    if agent.due_for_retrain:
        report = agent.retrain()
        replay.retrains += 1
        replay.promotions += bool(report.promoted)
    return decision


def _warm_embeddings(featurizer: str, texts: list[str]) -> None:
    """Embeddings do not depend on other items, so computing them up front leaks nothing."""
    if featurizer == "embeddings":
        from deshi.engine.featurize import EmbeddingFeaturizer

        EmbeddingFeaturizer().warm(texts)
    elif featurizer == "multilingual":
        from deshi.engine.featurize_multilingual import E5Featurizer

        E5Featurizer().transform(texts)


def _engine_agent(settings: BacktestSettings) -> BacktestAgent:
    """A fresh production agent configured from the settings."""
    from deshi.engine import Agent  # imported late: the engine (and its ML stack) loads on use

    agent: BacktestAgent = Agent(settings.agent_config())
    return agent
