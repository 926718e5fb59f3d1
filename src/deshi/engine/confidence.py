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

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from deshi.engine.memory import Neighbours

DECIDER_CANDIDATES = 3
MEMORY_CANDIDATES = 3
DUPLICATE_SIMILARITY = 0.95  # a reviewed case this close decides the label outright
VOTE_SHARPNESS = 3.0  # vote weight = similarity ** sharpness: close cases count much more
FEATURE_NAMES = (
    "decider_score",
    "decider_margin",
    "decider_top",
    "nearest_similarity",
    "nearest_agrees",
    "best_similarity_for_label",
    "memory_vote",
    "log_label_count",
)


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
        duplicate = (self.features[:, 3] >= DUPLICATE_SIMILARITY) & (self.features[:, 4] > 0)
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
    """Candidates and their features for each item (scores is None when no decider exists)."""
    rows_item: list[int] = []
    rows_label: list[str] = []
    rows_feat: list[list[float]] = []
    class_index = {c: j for j, c in enumerate(classes)}
    n_items = neighbours.indices.shape[0]
    for i in range(n_items):
        item_scores = scores[i] if scores is not None else None
        proposals = _proposals(classes, item_scores, neighbours.indices[i], memory_labels)
        nn_sims = neighbours.similarities[i]
        nn_labels = memory_labels[neighbours.indices[i]] if len(nn_sims) else np.array([])
        weights = np.clip(nn_sims, 0.0, 1.0) ** VOTE_SHARPNESS
        total_weight = float(weights.sum())
        for label in proposals:
            rows_item.append(i)
            rows_label.append(label)
            rows_feat.append(
                _features(
                    label,
                    item_scores,
                    class_index,
                    nn_sims,
                    nn_labels,
                    weights,
                    total_weight,
                    label_counts,
                )
            )
    features = np.array(rows_feat, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
    return Candidates(
        np.array(rows_item, dtype=np.int64), np.array(rows_label, dtype=object), features
    )


def _proposals(
    classes: Sequence[str],
    item_scores: np.ndarray | None,
    nn_indices: np.ndarray,
    memory_labels: np.ndarray,
) -> list[str]:
    proposals: list[str] = []
    if item_scores is not None and len(classes):
        top = np.argsort(-item_scores, kind="stable")[:DECIDER_CANDIDATES]
        proposals.extend(classes[j] for j in top)
    for j in nn_indices[:MEMORY_CANDIDATES]:
        proposals.append(str(memory_labels[j]))
    return list(dict.fromkeys(proposals))


def _features(
    label: str,
    item_scores: np.ndarray | None,
    class_index: dict[str, int],
    nn_sims: np.ndarray,
    nn_labels: np.ndarray,
    weights: np.ndarray,
    total_weight: float,
    label_counts: dict[str, int],
) -> list[float]:
    score = margin = is_top = 0.0
    if item_scores is not None and len(item_scores):
        j = class_index.get(label)
        score = float(item_scores[j]) if j is not None else float(item_scores.min()) - 1.0
        others = np.delete(item_scores, j) if j is not None else item_scores
        margin = score - float(others.max()) if len(others) else score
        is_top = float(margin > 0)
    agrees = nn_labels == label if len(nn_labels) else np.zeros(0, dtype=bool)
    nearest = float(nn_sims[0]) if len(nn_sims) else 0.0
    nearest_agrees = float(agrees[0]) if len(agrees) else 0.0
    best_sim = float(nn_sims[agrees].max()) if agrees.any() else 0.0
    vote = float(weights[agrees].sum()) / total_weight if total_weight > 0 else 0.0
    count = np.log1p(label_counts.get(label, 0))
    return [score, margin, is_top, nearest, nearest_agrees, best_sim, vote, float(count)]


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
        self._model = make_pipeline(StandardScaler(), LogisticRegression(C=self.c, max_iter=500))
        self._model.fit(features, correct)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Probability that each candidate is right."""
        if len(features) == 0:
            return np.zeros(0)
        if self._model is None:
            return np.full(len(features), self._constant)
        return np.asarray(self._model.predict_proba(features)[:, 1], dtype=np.float64)
