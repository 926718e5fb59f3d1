"""The agent: decides items, remembers every human answer at once, retrains with
champion/challenger, and routes within the error budget."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from deshi.engine.featurize import Featurizer, Matrix, make_featurizer
from deshi.engine.heap import large_blocks_returned
from deshi.engine.learn import LinearDecider
from deshi.engine.memory import CaseMemory
from deshi.engine.model import CalibrationData, TrainedModel
from deshi.engine.policy import AuditMonitor, MonitorState
from deshi.engine.training import (
    NEIGHBOURS,
    DeciderFactory,
    Parallelism,
    TrainingSet,
    holdout_accuracy,
    score_with_deciders,
    train_model,
)
from deshi.engine.types import (
    AgentConfig,
    Alternative,
    Decision,
    Observation,
    ReasonParams,
    Route,
    RouteReason,
)

MIN_LABEL_COUNT = 5  # a label seen fewer times than this is never auto-completed
EVIDENCE_CASES = 5
ALTERNATIVES = 5
RETRAIN_GROWTH = 0.15  # once past `retrain_every`, retrain when labels grow by 15%
MIN_HOLDOUT = 10
# Model versions kept in memory besides the champion, between retrains: the newest one (the
# challenger just trained, which the service then stores, or the champion it replaced, which
# `rollback` can reinstate). A version holds its vocabulary and weights (150 MiB on 42,000
# Japanese complaints), and a long-lived agent retrains dozens of times; older versions live
# in the database, and the service restores them from there. A retrain begins by dropping all
# but the champion, so that no third version sits beside the challenger being trained: it
# raised the Japanese cold stream's peak by 110 MiB (docs/benchmarks.md, "MLIT").
RESIDENT_VERSIONS = 1


class Trainer(Protocol):
    """Fits a model version and returns it with the labelled items' vectors: `train_model`."""

    def __call__(
        self,
        data: TrainingSet,
        featurizer: Featurizer,
        *,
        version: int,
        cutoff: int,
        epsilon: float,
        delta: float,
        seed: int,
        make_decider: DeciderFactory = ...,
        parallelism: Parallelism = ...,
    ) -> tuple[TrainedModel, Matrix]: ...


@dataclass(frozen=True, slots=True)
class RetrainReport:
    """What a retrain did: the challenger's numbers and whether it replaced the champion."""

    version: int
    promoted: bool
    champion_version: int
    trained_on: int
    holdout: int
    challenger_correct: int
    champion_correct: int
    contested: bool  # more accurate, against a certified champion: certificates decided (at δ/2)
    threshold: float | None
    expected_automation: float
    seconds: float


class Agent:
    """A learning agent for one process. Not thread-safe: one agent per worker."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        make_decider: DeciderFactory = LinearDecider,
        train: Trainer = train_model,
    ) -> None:
        self.config = config
        self.make_decider = make_decider
        self.train = train
        self.observations: list[Observation] = []
        self.memory = CaseMemory()
        self.champion: TrainedModel | None = None
        self.monitor = AuditMonitor()
        self.versions: list[TrainedModel] = []
        self._newest_version = 0  # numbers the next version: `versions` may have lost it
        self._labelled = 0
        self._next_retrain_at = 1
        self._tightened: TrainedModel | None = None  # champion recalibrated at ε/2 when at risk
        # The champion's out-of-fold calibration data as trained; live scores are added to it
        # afresh at each recalibration, so every live item counts once.
        self._trained_calibration: CalibrationData | None = None

    @classmethod
    def restore(
        cls,
        config: AgentConfig,
        observations: Sequence[Observation],
        *,
        versions: Sequence[TrainedModel] = (),
        champion_version: int | None = None,
        make_decider: DeciderFactory = LinearDecider,
        train: Trainer = train_model,
    ) -> Agent:
        """Rebuild an agent from stored observations (in decision order) and model versions.

        The case memory and the audit monitor are replayed from the observations; the champion's
        featurizer re-vectorises the memory, except the first cases when the champion stored
        their vectors (`TrainedModel.memory_vectors`). No retrain happens here.
        """
        agent = cls(config, make_decider=make_decider, train=train)
        agent.versions = list(versions)
        agent._newest_version = max((v.version for v in versions), default=0)
        for observation in observations:
            agent._take_in(observation)
        champion = next((v for v in versions if v.version == champion_version), None)
        if champion is not None:
            agent._install(champion, None)
            agent._refresh_champion_calibration()
        agent._schedule_next_retrain()
        return agent

    def adopt(self, versions: Sequence[TrainedModel], champion_version: int) -> None:
        """Take in model versions trained elsewhere (another OS process stored them) without
        replaying the history: the ones not held yet join `versions`, `champion_version` is
        installed if it is not the champion already, and the champion is recalibrated with its
        live evidence, as `restore` would. The observations, case memory and audit monitor stay
        as they are, so the agent must already hold every observation the database has.
        """
        held = {model.version for model in self.versions}
        fresh = [model for model in versions if model.version not in held]
        self.versions = sorted([*self.versions, *fresh], key=lambda model: model.version)
        self._newest_version = max([self._newest_version, *(v.version for v in self.versions)])
        if self.champion is None or self.champion.version != champion_version:
            champion = next((v for v in self.versions if v.version == champion_version), None)
            if champion is None:
                raise KeyError(f"model version {champion_version} is not in memory")
            self._install(champion, None)
        self._drop_other_rows()
        self._refresh_champion_calibration()
        self._forget_old_versions()
        self._schedule_next_retrain()

    # ---- deciding -------------------------------------------------------------------------

    def decide(self, text: str, case_id: str = "", *, rule: str | None = None) -> Decision:
        """Decide one item with the agent as it stands now."""
        return self.decide_many([text], [case_id], rules=[rule])[0]

    def decide_many(
        self,
        texts: Sequence[str],
        case_ids: Sequence[str] | None = None,
        *,
        rules: Sequence[str | None] | None = None,
    ) -> list[Decision]:
        """Decide a batch; `rules` names an always-human rule that matched an item, if any."""
        ids = list(case_ids) if case_ids is not None else [""] * len(texts)
        matched = list(rules) if rules is not None else [None] * len(texts)
        model = self.champion
        if model is None or len(self.memory) == 0:
            return [self._cold_decision(r) for r in matched]
        vectors = model.featurizer.transform(list(texts))
        neighbours = self.memory.search(vectors, NEIGHBOURS)
        labels_arr = self.memory.label_array()
        keys = [case_id or text for case_id, text in zip(ids, texts, strict=True)]
        cands, probs = score_with_deciders(vectors, texts, keys, model, neighbours, labels_arr)
        threshold = self.threshold
        suspended = self.holding_back
        chosen = cands.best_per_item(probs, len(texts))
        ranked = _ranked_rows(cands.item, chosen, probs, len(texts))
        # Python lists: the loop below reads single values, which numpy arrays give slowly.
        cand_labels, cand_probs = cands.labels.tolist(), probs.tolist()
        nearest = neighbours.similarities[:, 0].tolist()
        evidence = self.memory.evidence(neighbours, EVIDENCE_CASES)
        decisions = []
        for i, top in enumerate(ranked):
            labels = [cand_labels[r] for r in top]
            probs_ = [cand_probs[r] for r in top]
            alternatives = _alternatives(labels, probs_)
            label, conf = labels[0], probs_[0]
            shown = round(conf, 6)  # routing compares the unrounded confidence
            route, reason = self._route(
                label, conf, nearest[i], ids[i], matched[i], threshold, suspended
            )
            decisions.append(
                Decision(
                    label=label,
                    confidence=shown,
                    alternatives=alternatives,
                    evidence=evidence[i],
                    route=route,
                    reason_code=reason,
                    model_version=model.version,
                    threshold=threshold,
                    reason_params=_reason_params(reason, label, shown, threshold, matched[i]),
                )
            )
        return decisions

    @property
    def threshold(self) -> float | None:
        """The threshold in force: tightened while the audit evidence says the budget is at risk
        (unless nothing passes at ε/2: then the champion's, with every would-be-auto item held
        for review as when suspended)."""
        if self.champion is None:
            return None
        if self.monitor_state is MonitorState.AT_RISK:
            tightened = self._tightened_model().threshold
            if tightened is not None:
                return tightened
        return self.champion.threshold

    @property
    def holding_back(self) -> bool:
        """True when would-be-auto items go to review instead: the monitor suspended
        auto-completion, or the budget is at risk and no threshold passes at ε/2. Those reviews
        feed the monitor, so it can recover; otherwise no audit would ever be drawn again."""
        if self.champion is None:
            return False
        state = self.monitor_state
        if state is MonitorState.SUSPENDED:
            return True
        return state is MonitorState.AT_RISK and self._tightened_model().threshold is None

    @property
    def monitor_state(self) -> MonitorState:
        """What the audit evidence says about the error budget right now."""
        return self.monitor.state(self.config.policy.error_budget, self.config.policy.delta)

    def _route(
        self,
        label: str,
        conf: float,
        nearest: float,
        case_id: str,
        rule: str | None,
        threshold: float | None,
        suspended: bool,
    ) -> tuple[Route, RouteReason]:
        model = self.champion
        assert model is not None
        # In order of precedence: the first that applies is the reason.
        if rule is not None:
            return Route.REVIEW, RouteReason.RULE
        if label in self.config.sensitive_labels:
            return Route.REVIEW, RouteReason.SENSITIVE
        if model.is_memory_only:
            return Route.REVIEW, RouteReason.COLD_START
        if threshold is None:
            return Route.REVIEW, RouteReason.NO_THRESHOLD
        if conf < threshold:
            return Route.REVIEW, RouteReason.BELOW_THRESHOLD
        if nearest < model.novelty_floor:
            return Route.REVIEW, RouteReason.NOVEL
        if model.label_counts.get(label, 0) < MIN_LABEL_COUNT:
            return Route.REVIEW, RouteReason.RARE_LABEL
        if suspended:
            return Route.REVIEW, RouteReason.SUSPENDED
        if _audit_draw(self.config.seed, case_id) < self.config.policy.audit_rate:
            return Route.AUDIT, RouteReason.AUDIT
        return Route.AUTO, RouteReason.AUTO

    def _cold_decision(self, rule: str | None) -> Decision:
        reason = RouteReason.RULE if rule else RouteReason.COLD_START
        return Decision(
            label=None,
            confidence=0.0,
            alternatives=(),
            evidence=(),
            route=Route.REVIEW,
            reason_code=reason,
            model_version=0,
            threshold=None,
            reason_params=_reason_params(reason, None, 0.0, None, rule),
        )

    # ---- learning -------------------------------------------------------------------------

    def record(self, observation: Observation) -> None:
        """Take in a decided item; a labelled one joins the case memory immediately."""
        self._take_in(observation)
        if self._labelled >= self._next_retrain_at and self.champion is None:
            self.retrain()  # the first labelled item bootstraps the featurizer and memory

    def _take_in(self, observation: Observation) -> None:
        self.observations.append(observation)
        if observation.label is not None:
            self.memory.add(observation.case_id, observation.text, observation.label)
            self._labelled += 1
            # Only an answer compared with what the agent said is evidence about the agent.
            audited = observation.route is Route.AUDIT or observation.suspended
            if audited and observation.predicted_label is not None:
                wrong = observation.predicted_label != observation.label
                self.monitor = self.monitor.observe(wrong=wrong)

    @property
    def due_for_retrain(self) -> bool:
        """True once enough new labels arrived since the last retrain."""
        return self._labelled >= self._next_retrain_at

    def retrain(self) -> RetrainReport:
        """Train a challenger on everything labelled; promote it only if it beats the champion
        on held-out recent items (and, against a certified champion, certifies at least as much
        automation: see `_contest`), otherwise recalibrate the champion with the new evidence."""
        with large_blocks_returned():  # or the allocator keeps each retrain's peak (heap.py)
            return self._retrain()

    def _retrain(self) -> RetrainReport:
        started = time.perf_counter()
        version = self._newest_version + 1
        champion_version = self.champion.version if self.champion is not None else None
        self.versions = [v for v in self.versions if v.version == champion_version]
        data = self._training_set()
        challenger, vectors = self.train(
            data,
            make_featurizer(self.config.featurizer),
            version=version,
            cutoff=len(self.observations),
            epsilon=self.config.policy.error_budget,
            delta=self.config.policy.delta,
            seed=self.config.seed + version,
            make_decider=self.make_decider,
            parallelism=Parallelism(threads=self.config.training_threads),
        )
        holdout, challenger_correct, champion_correct = self._compare(challenger, data, vectors)
        # "Better" needs evidence: a held-out set of some size, and strictly more right answers.
        better = self.champion is None or (
            holdout >= MIN_HOLDOUT and challenger_correct > champion_correct
        )
        contested = better and self.champion is not None and self.champion.threshold is not None
        if contested:
            challenger, promoted = self._contest(challenger)
        else:
            promoted = better
            if not promoted:
                self._refresh_champion_calibration()
        self.versions.append(challenger)
        self._newest_version = challenger.version
        if promoted:
            self._install(challenger, vectors)
        self._forget_old_versions()
        self._schedule_next_retrain()
        champion = self.champion
        assert champion is not None
        calibration = champion.calibration
        return RetrainReport(
            version=challenger.version,
            promoted=promoted,
            champion_version=champion.version,
            trained_on=challenger.trained_on,
            holdout=holdout,
            challenger_correct=challenger_correct,
            champion_correct=champion_correct,
            contested=contested,
            threshold=champion.threshold,
            expected_automation=calibration.expected_automation if calibration else 0.0,
            seconds=time.perf_counter() - started,
        )

    def rollback(self, version: int) -> TrainedModel:
        """Make an earlier model version the champion again (one still held in memory)."""
        for model in self.versions:
            if model.version == version:
                self._install(model, None)
                return model
        raise KeyError(f"model version {version} is not in memory")

    def _forget_old_versions(self) -> None:
        """Keep the champion and the RESIDENT_VERSIONS newest other versions; drop the rest."""
        champion = self.champion.version if self.champion is not None else None
        others = [model.version for model in self.versions if model.version != champion]
        kept = {champion, *others[-RESIDENT_VERSIONS:]}
        self.versions = [v for v in self.versions if v.version in kept]

    def _training_set(self) -> TrainingSet:
        labelled = [o for o in self.observations if o.label is not None]
        return TrainingSet(
            case_ids=[o.case_id for o in labelled],
            texts=[o.text for o in labelled],
            labels=np.array([o.label for o in labelled], dtype=object),
            unlabelled_texts=[o.text for o in self.observations if o.label is None],
        )

    def _compare(
        self, challenger: TrainedModel, data: TrainingSet, vectors: Matrix
    ) -> tuple[int, int, int]:
        """Paired comparison on the newer half of the items labelled since the champion's cutoff:
        the champion's live answers against a challenger refit without those items."""
        champion = self.champion
        if champion is None or challenger.is_memory_only:
            return 0, 0, 0
        after_cutoff = self.observations[champion.cutoff :]
        recent_ids = {o.case_id for o in after_cutoff if o.label is not None}
        positions = np.array(
            [i for i, c in enumerate(data.case_ids) if c in recent_ids], dtype=np.int64
        )
        held = positions[len(positions) // 2 :]
        if len(held) < MIN_HOLDOUT:
            return len(held), 0, 0
        keep = np.setdiff1d(np.arange(len(data.texts)), held)
        x = vectors
        eval_decider = self.make_decider().fit(
            x[keep], [data.texts[i] for i in keep], data.labels[keep].tolist()
        )
        eval_model = replace(challenger, deciders=(eval_decider,))
        challenger_correct = holdout_accuracy(
            eval_model,
            x,
            data.labels[keep],
            x[held],
            [data.texts[i] for i in held],
            data.labels[held],
            train_rows=keep,  # sliced inside: the copy is not alive during the search
        )
        live = {
            o.case_id: o.predicted_label == o.label for o in after_cutoff if o.label is not None
        }
        champion_correct = sum(live[data.case_ids[i]] for i in held)
        return len(held), challenger_correct, champion_correct

    def _install(self, model: TrainedModel, vectors: Matrix | None) -> None:
        self.memory.rebuild(model.featurizer, vectors, model.search_layout, model.memory_vectors)
        layout = self.memory.search_layout
        # Kept with the version (and stored with it), so a restore skips the SVD, and so are
        # the memory's rows, so it skips vectorising them. Only the champion keeps rows: an
        # older version's would keep its replaced index alive.
        model = replace(
            model,
            search_layout=layout if model.search_layout is None else model.search_layout,
            memory_vectors=self.memory.stored_vectors(),
        )
        self.versions = [model if v.version == model.version else v for v in self.versions]
        self.champion = model
        self._drop_other_rows()
        self._trained_calibration = model.calibration_data
        self._tightened = None

    def _drop_other_rows(self) -> None:
        """Only the champion keeps memory rows: another version's would keep its replaced
        index alive, or a loaded version's file (the rows are read from it when wanted)."""
        champion = self.champion.version if self.champion is not None else None
        self.versions = [
            replace(v, memory_vectors=None)
            if v.memory_vectors is not None and v.version != champion
            else v
            for v in self.versions
        ]

    def _contest(self, challenger: TrainedModel) -> tuple[TrainedModel, bool]:
        """A more accurate challenger against a certified champion: both are calibrated at δ/2,
        and the challenger is promoted only if it certifies at least the champion's automation.

        Accuracy alone would often swap a certified champion for an uncertified challenger (its
        out-of-fold scores rank high some items the champion was unsure of and had reviewed,
        which are harder than the champion's auto-completed ones), and automation would stop
        until a later model certified again. Choosing by certification looks at two tests of the
        same budget, so each gets half of δ (Bonferroni), and the deployed threshold holds at δ.
        """
        policy = self.config.policy
        half = policy.delta / 2
        data = challenger.calibration_data
        if data is not None:
            challenger = challenger.recalibrated(data, epsilon=policy.error_budget, delta=half)
        self._refresh_champion_calibration(delta=half)
        champion = self.champion
        assert champion is not None
        return challenger, _automation(challenger) >= _automation(champion)

    def _refresh_champion_calibration(self, *, delta: float | None = None) -> None:
        """Recalibrate the champion on its out-of-fold scores plus its own live scores on items
        decided since its training (and test at `delta`, by default the configured δ).

        The live scores are added to the data the champion was trained with, never to data a
        previous recalibration had already extended: each live item must count once, or its
        repeats inflate the effective sample size and the bound is too tight.
        """
        champion, trained = self.champion, self._trained_calibration
        if champion is None or trained is None:
            return
        mine = [
            o for o in self.observations[champion.cutoff :] if o.model_version == champion.version
        ]
        labelled = [
            (o.confidence or 0.0, o.predicted_label == o.label) for o in mine if o.label is not None
        ]
        unlabelled = [o.confidence or 0.0 for o in mine if o.label is None]
        data = trained.extended(labelled, unlabelled)
        self.champion = champion.recalibrated(
            data,
            epsilon=self.config.policy.error_budget,
            delta=self.config.policy.delta if delta is None else delta,
        )
        self._tightened = None

    def _tightened_model(self) -> TrainedModel:
        champion = self.champion
        assert champion is not None
        if self._tightened is None:
            data, policy = champion.calibration_data, self.config.policy
            self._tightened = (
                champion.recalibrated(data, epsilon=policy.error_budget / 2, delta=policy.delta)
                if data is not None
                else champion
            )
        return self._tightened

    def _schedule_next_retrain(self) -> None:
        n = self._labelled
        step = max(min(n, self.config.retrain_every), int(RETRAIN_GROWTH * n))
        self._next_retrain_at = n + max(step, 1)


def _automation(model: TrainedModel) -> float:
    """Share of its calibration population a model auto-completes (0 when nothing certified)."""
    calibration = model.calibration
    return calibration.expected_automation if calibration is not None else 0.0


def _ranked_rows(
    item: np.ndarray, chosen: np.ndarray, probs: np.ndarray, n_items: int
) -> list[list[int]]:
    """Each item's best ALTERNATIVES candidate rows: the chosen one first, the rest by falling
    probability."""
    is_chosen = np.zeros(len(item), dtype=bool)
    is_chosen[chosen[chosen >= 0]] = True
    order = np.lexsort((-probs, ~is_chosen, item))
    ranked_item = item[order]
    start = np.searchsorted(ranked_item, np.arange(n_items))
    rank = np.arange(len(order)) - start[ranked_item]
    keep = rank < ALTERNATIVES
    table = np.full((n_items, ALTERNATIVES), -1, dtype=np.int64)
    table[ranked_item[keep], rank[keep]] = order[keep]
    return [[r for r in row if r >= 0] for row in table.tolist()]


def _alternatives(labels: list[str], probs: list[float]) -> tuple[Alternative, ...]:
    """The best candidates with their probabilities (scaled down if they sum past 1)."""
    total = sum(probs)
    scale = 1.0 / total if total > 1.0 else 1.0  # candidates' probabilities may not sum past 1
    return tuple(
        [Alternative(label, round(p * scale, 6)) for label, p in zip(labels, probs, strict=True)]
    )


def _audit_draw(seed: int, case_id: str) -> float:
    """A uniform draw fixed by (seed, case id), so a re-decided item keeps its audit fate."""
    digest = hashlib.blake2b(f"{seed}:{case_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _reason_params(
    reason: RouteReason, label: str | None, conf: float, threshold: float | None, rule: str | None
) -> ReasonParams:
    """The facts a route reason names (see RouteReason), for its sentence in any language."""
    if reason is RouteReason.RULE:
        return {"rule": rule}
    if reason in (RouteReason.SENSITIVE, RouteReason.RARE_LABEL):
        return {"label": label}
    if reason in (RouteReason.AUTO, RouteReason.BELOW_THRESHOLD):
        return {"confidence": conf, "threshold": threshold}
    return {}
