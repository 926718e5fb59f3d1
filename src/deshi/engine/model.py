"""A trained model version: everything needed to decide, plus the evidence it was calibrated on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from deshi.engine.confidence import ConfidenceModel
from deshi.engine.featurize import Featurizer
from deshi.engine.learn import Decider
from deshi.engine.memory import MemoryVectors
from deshi.engine.policy import Calibration, calibrate_threshold
from deshi.engine.search import SearchLayout


@dataclass(frozen=True, slots=True)
class CalibrationData:
    """Out-of-sample confidence scores the threshold was chosen from.

    Labelled scores are cross-fitted (the scoring model never saw the item); unlabelled scores
    belong to auto-completed items, which no model trained on.
    """

    labelled_scores: np.ndarray
    labelled_correct: np.ndarray
    unlabelled_scores: np.ndarray

    def extended(
        self, labelled: list[tuple[float, bool]], unlabelled: list[float]
    ) -> CalibrationData:
        """The same data plus scores of items decided since (live scores are out-of-sample)."""
        if not labelled and not unlabelled:
            return self
        lab_s = np.array([s for s, _ in labelled], dtype=np.float64)
        lab_c = np.array([c for _, c in labelled], dtype=bool)
        return CalibrationData(
            np.concatenate([self.labelled_scores, lab_s]),
            np.concatenate([self.labelled_correct, lab_c]),
            np.concatenate([self.unlabelled_scores, np.asarray(unlabelled, dtype=np.float64)]),
        )

    def calibrate(self, *, epsilon: float, delta: float) -> Calibration:
        """Run the fixed-sequence threshold test on this data."""
        return calibrate_threshold(
            self.labelled_scores,
            self.labelled_correct,
            self.unlabelled_scores,
            epsilon=epsilon,
            delta=delta,
        )


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """One model version: the decider(s) plus the shared parts.

    Training stores one decider, fitted on every labelled item (see docs/engine.md on why live
    items are not scored by the fold deciders). Several deciders are allowed: a live item is then
    scored by the one its id hashes to. No deciders means memory-only (too little data to train).
    """

    version: int
    featurizer: Featurizer
    deciders: tuple[Decider, ...]
    confidence: ConfidenceModel | None
    calibration: Calibration | None
    calibration_data: CalibrationData | None
    label_counts: dict[str, int]
    novelty_floor: float  # nearest-case similarity below which an input counts as novel
    trained_on: int  # labelled items it learned from
    cutoff: int  # observations seen when it was trained; later ones are held out from it
    metrics: dict[str, float] = field(default_factory=dict)
    # The case memory's search layout under this model's featurizer, set when the model is
    # first installed as champion; an agent restored with the model reuses it (no SVD).
    search_layout: SearchLayout | None = None
    # The case memory's rows under this model's featurizer, set while it is the installed
    # champion of a memory searched through a shortlist; a restore reuses them (no vectorising).
    memory_vectors: MemoryVectors | None = None

    @property
    def is_memory_only(self) -> bool:
        """True before there was enough data to train a decider."""
        return not self.deciders

    @property
    def threshold(self) -> float | None:
        """The auto-complete threshold, or None when auto-completion is off for this model."""
        return self.calibration.threshold if self.calibration else None

    def recalibrated(self, data: CalibrationData, *, epsilon: float, delta: float) -> TrainedModel:
        """This model with its threshold re-chosen on (more) data."""
        calibration = data.calibrate(epsilon=epsilon, delta=delta)
        return replace(self, calibration=calibration, calibration_data=data)
