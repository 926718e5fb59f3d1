"""Drift: do live items still resemble the history the model was trained and calibrated on?

The error guarantee assumes they do: the threshold was certified on cross-fitted scores of
the training items (mostly the imported history). Two signals say when live items stop
resembling them; the audit monitor stays the safety net either way.

- **Score shift.** The population stability index (PSI) of the live confidence scores of the
  recent window against the model's cross-fitted training scores: PSI = Σ (live − reference) ·
  ln(live / reference) over the bins of `SCORE_EDGES`, each share smoothed by half an item (so an
  empty bin stays finite). It fires at `PSI_THRESHOLD` (0.25, the usual reading of a "major
  shift"). The bins are fixed on the probability scale, not the training scores' deciles: a score
  is the calibrated probability that the label is right, so each bin means the same error
  whatever the data, and nothing finer than 0.99 is told apart, because a live item is scored
  by a decider trained on every fold and a training item by one trained on four fifths of them:
  on clean data that alone lifts confident scores by a few thousandths, which deciles would
  call a shift. Without a shift, n · PSI is about χ² with bins − 1 = 7 degrees of freedom, so at
  `MIN_LIVE_ITEMS` = 100 its 99th percentile is 18.5 / 100 = 0.19: below the threshold, so a
  window of the same distribution fires less than one time in a hundred.
- **Novel inputs.** The share of recent live items whose nearest remembered case is less similar
  than the model's novelty floor. The floor is the `NOVELTY_QUANTILE` (1 %) quantile of the
  training items' leave-fold-out nearest similarities, so about 1 % of items like the history fall
  below it. It fires when the live share is at least `NOVEL_SHARE_MIN` (5 %, five times the
  history's) and a one-sided exact binomial test rejects "1 %" at `NOVELTY_ALPHA`.

`DriftReference` is what a model version keeps of its training scores (bin edges and shares,
the novelty floor): small, so it is stored with the version's metrics and a check reads no model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest

from deshi.engine.model import TrainedModel
from deshi.engine.training import NOVELTY_QUANTILE

__all__ = [
    "MIN_LIVE_ITEMS",
    "MIN_REFERENCE_ITEMS",
    "NOVELTY_ALPHA",
    "NOVEL_SHARE_MIN",
    "PSI_THRESHOLD",
    "DriftFigures",
    "DriftReference",
    "assess_drift",
    "population_stability_index",
]

# finest where thresholds for ε of 1–5 % sit; none above 0.99 (see the module's docs)
SCORE_EDGES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
PSI_THRESHOLD = 0.25  # the credit-scoring reading: < 0.1 stable, 0.1–0.25 moderate, > 0.25 major
MIN_LIVE_ITEMS = 100  # below this a same-distribution window's PSI reaches the threshold too often
MIN_REFERENCE_ITEMS = 50  # a reference of fewer scores has no stable deciles
NOVEL_SHARE_MIN = 0.05  # five times the history's own 1 %: a change of inputs, not their tail
NOVELTY_ALPHA = 0.001  # strict: the test is repeated at every check of a steady stream
SMOOTHING = 0.5  # items added to every bin's count: an empty bin's log stays finite


@dataclass(frozen=True, slots=True)
class DriftReference:
    """What a model keeps of its training: score bin edges, the (smoothed) share of training
    scores in each bin, how many scores there were, and the novelty floor with the share of
    training items below it."""

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    n: int
    novelty_floor: float
    novel_share: float = NOVELTY_QUANTILE

    @classmethod
    def of_scores(
        cls, scores: Sequence[float] | np.ndarray, *, novelty_floor: float
    ) -> DriftReference:
        """The reference of cross-fitted training scores."""
        values = np.asarray(scores, dtype=np.float64)
        shares = _shares(values, SCORE_EDGES)
        return cls(SCORE_EDGES, tuple(shares.tolist()), len(values), novelty_floor)

    @classmethod
    def of_model(cls, model: TrainedModel) -> DriftReference | None:
        """The reference of a trained model; None without enough cross-fitted scores."""
        data = model.calibration_data
        if data is None or len(data.labelled_scores) < MIN_REFERENCE_ITEMS:
            return None
        return cls.of_scores(data.labelled_scores, novelty_floor=model.novelty_floor)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, rounded: it is stored with every model version."""
        return {
            "edges": [round(edge, 6) for edge in self.edges],
            "shares": [round(share, 6) for share in self.shares],
            "n": self.n,
            "novelty_floor": round(self.novelty_floor, 6),
            "novel_share": self.novel_share,
        }

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> DriftReference:
        """The reference `to_dict` stored (KeyError, TypeError or ValueError when malformed)."""
        return cls(
            tuple(float(edge) for edge in stored["edges"]),
            tuple(float(share) for share in stored["shares"]),
            int(stored["n"]),
            float(stored["novelty_floor"]),
            float(stored["novel_share"]),
        )


def _shares(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Smoothed share of `values` in each bin the edges make (a value on an edge goes to the
    upper bin)."""
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(np.float64) + SMOOTHING
    shares: np.ndarray = counts / counts.sum()
    return shares


def population_stability_index(reference: DriftReference, scores: Sequence[float]) -> float:
    """PSI of `scores` against the reference's bins (0 = the same shares)."""
    live = _shares(np.asarray(scores, dtype=np.float64), reference.edges)
    ref = np.asarray(reference.shares, dtype=np.float64)
    return float(np.sum((live - ref) * np.log(live / ref)))


@dataclass(frozen=True, slots=True)
class DriftFigures:
    """One check of the recent live window against the reference."""

    live_items: int
    psi: float | None  # None below MIN_LIVE_ITEMS
    novel_share: float | None  # None below MIN_LIVE_ITEMS
    novel_expected: float
    novel_p_value: float | None
    score_shift: bool
    novel_excess: bool

    @property
    def drifting(self) -> bool:
        """True when either signal fired."""
        return self.score_shift or self.novel_excess

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (stored, and sent with the webhook)."""
        return {
            "live_items": self.live_items,
            "psi": _rounded(self.psi),
            "psi_threshold": PSI_THRESHOLD,
            "novel_share": _rounded(self.novel_share),
            "novel_expected": self.novel_expected,
            "novel_p_value": _rounded(self.novel_p_value),
            "score_shift": self.score_shift,
            "novel_excess": self.novel_excess,
            "drifting": self.drifting,
        }


def _rounded(value: float | None) -> float | None:
    return round(value, 6) if value is not None else None


def assess_drift(
    reference: DriftReference, scores: Sequence[float], nearest: Sequence[float]
) -> DriftFigures:
    """Both signals on a live window: its confidence `scores` and its items' `nearest` case
    similarities (one each per item, in any order)."""
    n = len(scores)
    if n < MIN_LIVE_ITEMS:
        return DriftFigures(n, None, None, reference.novel_share, None, False, False)
    psi = population_stability_index(reference, scores)
    novel = sum(1 for similarity in nearest if similarity < reference.novelty_floor)
    share = novel / len(nearest) if nearest else 0.0
    p_value = (
        float(binomtest(novel, len(nearest), reference.novel_share, alternative="greater").pvalue)
        if nearest
        else 1.0
    )
    return DriftFigures(
        live_items=n,
        psi=psi,
        novel_share=share,
        novel_expected=reference.novel_share,
        novel_p_value=p_value,
        score_shift=psi >= PSI_THRESHOLD,
        novel_excess=share >= NOVEL_SHARE_MIN and p_value < NOVELTY_ALPHA,
    )
