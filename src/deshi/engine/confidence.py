"""The confidence model: the probability that a candidate label is right.

Candidates are the decider's top labels and the labels of the nearest remembered cases. Each is
described by the decider's score and margin and by the memory's evidence (similarity of the
nearest case, whether it agrees, a similarity-weighted vote). A logistic model learns from
out-of-fold candidates which of these signals mean "right"; agreement between the decider and a
close case is worth far more than either alone, which is why this beats the decider's own scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from deshi.engine.memory import Neighbours

DECIDER_CANDIDATES = 3
MEMORY_CANDIDATES = 3
DUPLICATE_SIMILARITY = 0.95  # a reviewed case this close decides the label outright
VOTE_SHARPNESS = 3.0  # vote weight = similarity ** sharpness: close cases count much more


class Feature(IntEnum):
    """The columns of a candidate's feature vector, in order (a trained model depends on it)."""

    DECIDER_SCORE = 0
    DECIDER_MARGIN = 1
    DECIDER_TOP = 2  # 1.0 when the decider ranks the candidate first
    NEAREST_SIMILARITY = 3
    NEAREST_AGREES = 4  # 1.0 when the nearest case has the candidate's label
    BEST_SIMILARITY_FOR_LABEL = 5
    MEMORY_VOTE = 6  # similarity-weighted share of the neighbours with the candidate's label
    LOG_LABEL_COUNT = 7


FEATURE_NAMES = tuple(feature.name.lower() for feature in Feature)
DECIDER_FEATURES = slice(Feature.DECIDER_SCORE, Feature.DECIDER_TOP + 1)  # _decider_features


@dataclass(frozen=True, slots=True)
class Candidates:
    """Candidate labels for a batch of items, one row per (item, candidate)."""

    item: np.ndarray  # (m,) index of the item each row belongs to
    labels: np.ndarray  # (m,) object array of candidate labels
    features: np.ndarray  # (m, len(FEATURE_NAMES))

    def best_per_item(self, probabilities: np.ndarray, n_items: int) -> np.ndarray:
        """Row index of each item's chosen candidate (-1 for an item with none).

        The most probable candidate, except that a reviewed near-duplicate decides outright:
        that is how a correction reaches the next near-identical item before any retrain. The
        same rule picks the label in calibration and live, so the threshold covers its errors.
        """
        best = np.full(n_items, -1, dtype=np.int64)
        if len(self.item) == 0:
            return best
        near = self.features[:, Feature.NEAREST_SIMILARITY] >= DUPLICATE_SIMILARITY
        duplicate = near & (self.features[:, Feature.NEAREST_AGREES] > 0)
        key = probabilities + 2.0 * duplicate  # probabilities ≤ 1: the duplicate flag dominates
        order = np.lexsort((-key, self.item))
        first = np.ones(len(order), dtype=bool)
        first[1:] = self.item[order][1:] != self.item[order][:-1]
        best[self.item[order][first]] = order[first]
        return best


def build_candidates(
    classes: Sequence[str],
    scores: np.ndarray | None,
    neighbours: Neighbours,
    memory_labels: np.ndarray,
    label_counts: dict[str, int],
) -> Candidates:
    """Candidates and their features for each item (scores is None when no decider exists).

    Vectorised over items: labels become integer ids in one vocabulary (the decider's classes,
    then the neighbours' labels), so every feature is an array operation on (item, candidate) rows.
    """
    n_items, k = neighbours.indices.shape
    nn_labels = memory_labels[neighbours.indices].ravel().tolist() if k else []
    vocab = list(dict.fromkeys([*classes, *nn_labels]))
    ids = {label: j for j, label in enumerate(vocab)}
    nn_ids = np.array([ids[label] for label in nn_labels], dtype=np.int64).reshape(n_items, k)
    has_scores = scores is not None and len(classes) > 0
    proposals = [nn_ids[:, :MEMORY_CANDIDATES]]
    if has_scores:
        assert scores is not None
        top = np.argsort(-scores, axis=1, kind="stable")[:, :DECIDER_CANDIDATES]
        proposals.insert(0, top)  # class j has vocabulary id j
    item, cand = _unique_in_order(np.hstack(proposals))
    features = np.zeros((len(item), len(FEATURE_NAMES)), dtype=np.float64)
    if has_scores:
        assert scores is not None
        features[:, DECIDER_FEATURES] = _decider_features(scores, item, cand)
    sims = neighbours.similarities.astype(np.float64)
    agrees = nn_ids[item] == cand[:, None]  # (rows, k)
    weights = np.clip(sims, 0.0, 1.0) ** VOTE_SHARPNESS
    total = weights.sum(axis=1)[item]
    if k:
        features[:, Feature.NEAREST_SIMILARITY] = sims[item, 0]
        features[:, Feature.NEAREST_AGREES] = agrees[:, 0]
        best = np.where(agrees, sims[item], -np.inf).max(axis=1, initial=-np.inf)
        features[:, Feature.BEST_SIMILARITY_FOR_LABEL] = np.where(agrees.any(axis=1), best, 0.0)
        vote = (weights[item] * agrees).sum(axis=1)
        share = np.divide(vote, total, out=np.zeros_like(vote), where=total > 0)
        features[:, Feature.MEMORY_VOTE] = share
    counts = np.array([label_counts.get(label, 0) for label in vocab], dtype=np.float64)
    features[:, Feature.LOG_LABEL_COUNT] = np.log1p(counts[cand])
    labels = np.array(vocab, dtype=object)[cand] if len(cand) else np.zeros(0, dtype=object)
    return Candidates(item, labels, features)


def _unique_in_order(proposals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(item, label id) rows of each item's distinct proposals, in proposal order."""
    n_items, width = proposals.shape
    keep = np.ones_like(proposals, dtype=bool)
    for j in range(1, width):
        keep[:, j] = (proposals[:, :j] != proposals[:, j : j + 1]).all(axis=1)
    item = np.repeat(np.arange(n_items, dtype=np.int64), width).reshape(n_items, width)
    return item[keep], proposals[keep].astype(np.int64)


def _decider_features(scores: np.ndarray, item: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Score, margin over the best other class, and "is the top class" for each row.

    A label the decider does not know (seen only in memory) scores one below the item's minimum.
    """
    n_classes = scores.shape[1]
    known = cand < n_classes
    item_scores = scores[item]
    own = item_scores[np.arange(len(item)), np.minimum(cand, n_classes - 1)]
    score = np.where(known, own, item_scores.min(axis=1) - 1.0)
    if n_classes == 1:
        margin = np.where(known, score, score - item_scores[:, 0])
    else:
        two = -np.partition(-item_scores, 1, axis=1)[:, :2]  # best and second-best score
        best_other = np.where(known & (score >= two[:, 0]), two[:, 1], two[:, 0])
        margin = score - best_other
    return np.column_stack([score, margin, (margin > 0).astype(np.float64)])


class ConfidenceModel:
    """Logistic model of P(candidate is right | features)."""

    def __init__(self, *, c: float = 1.0) -> None:
        self.c = c
        self._model: Pipeline | None = None
        self._constant: float = 0.0

    def fit(self, features: np.ndarray, correct: np.ndarray) -> ConfidenceModel:
        """Fit on candidate features and 0/1 targets (a single class gives a constant model)."""
        self._model = None
        if len(np.unique(correct)) < 2:
            self._constant = float(correct.mean()) if len(correct) else 0.0
            return self
        self._model = self._pipeline()
        self._model.fit(features, correct)
        return self

    def _pipeline(self) -> Pipeline:
        return make_pipeline(StandardScaler(), LogisticRegression(C=self.c, max_iter=500))

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Probability that each candidate is right."""
        if len(features) == 0:
            return np.zeros(0)
        if self._model is None:
            return np.full(len(features), self._constant)
        return np.asarray(self._model.predict_proba(features)[:, 1], dtype=np.float64)

    def to_state(self) -> dict[str, Any]:
        """C and the constant, or the fitted scaler's and logistic model's arrays."""
        state: dict[str, Any] = {"c": self.c, "constant": self._constant, "fitted": None}
        if self._model is not None:
            scaler, logistic = self._model[0], self._model[-1]
            state["fitted"] = {
                "mean": scaler.mean_,
                "var": scaler.var_,
                "scale": scaler.scale_,
                "samples": int(scaler.n_samples_seen_),
                "coef": logistic.coef_,
                "intercept": logistic.intercept_,
                "classes": logistic.classes_,
            }
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ConfidenceModel:
        """The model `to_state` describes: scikit-learn's own objects, given the fitted arrays
        (so `predict` runs the very same arithmetic)."""
        model = cls(c=state["c"])
        model._constant = float(state["constant"])
        fitted = state["fitted"]
        if fitted is not None:
            model._model = model._pipeline()
            scaler, logistic = model._model[0], model._model[-1]
            scaler.mean_, scaler.var_ = fitted["mean"], fitted["var"]
            scaler.scale_, scaler.n_samples_seen_ = fitted["scale"], fitted["samples"]
            logistic.coef_, logistic.intercept_ = fitted["coef"], fitted["intercept"]
            logistic.classes_ = fitted["classes"]
            scaler.n_features_in_ = logistic.n_features_in_ = fitted["coef"].shape[1]
        return model
