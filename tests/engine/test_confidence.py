"""Candidate features: the vectorised builder against a plain per-item reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deshi.engine.confidence import (
    DECIDER_CANDIDATES,
    DUPLICATE_SIMILARITY,
    MEMORY_CANDIDATES,
    VOTE_SHARPNESS,
    Candidates,
    build_candidates,
)
from deshi.engine.memory import Neighbours


def reference_candidates(classes, scores, neighbours, memory_labels, label_counts):
    """One item and one candidate at a time, written for clarity rather than speed."""
    rows = []
    for i in range(neighbours.indices.shape[0]):
        item_scores = scores[i] if scores is not None and len(classes) else None
        proposals = []
        if item_scores is not None:
            top = np.argsort(-item_scores, kind="stable")[:DECIDER_CANDIDATES]
            proposals += [classes[j] for j in top]
        nn = neighbours.indices[i]
        proposals += [str(memory_labels[j]) for j in nn[:MEMORY_CANDIDATES]]
        sims = neighbours.similarities[i].astype(np.float64)
        nn_labels = memory_labels[nn] if len(nn) else np.array([], dtype=object)
        weights = np.clip(sims, 0, 1) ** VOTE_SHARPNESS
        for label in dict.fromkeys(proposals):
            score = margin = is_top = 0.0
            if item_scores is not None:
                j = classes.index(label) if label in classes else None
                score = item_scores[j] if j is not None else item_scores.min() - 1.0
                others = np.delete(item_scores, j) if j is not None else item_scores
                margin = score - others.max() if len(others) else score
                is_top = float(margin > 0)
            agrees = nn_labels == label
            rows.append(
                (
                    i,
                    label,
                    [
                        score,
                        margin,
                        is_top,
                        sims[0] if len(sims) else 0.0,
                        float(agrees[0]) if len(agrees) else 0.0,
                        sims[agrees].max() if agrees.any() else 0.0,
                        weights[agrees].sum() / weights.sum() if weights.sum() > 0 else 0.0,
                        np.log1p(label_counts.get(label, 0)),
                    ],
                )
            )
    return rows


@st.composite
def batches(draw):
    n_classes = draw(st.integers(0, 6))
    n_memory = draw(st.integers(0, 12))
    n_items = draw(st.integers(0, 5))
    k = min(draw(st.integers(0, 10)), n_memory)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pool = [f"L{j}" for j in range(8)]
    classes = pool[:n_classes]
    memory_labels = np.array(rng.choice(pool, n_memory).tolist(), dtype=object)
    # Few distinct score values, so ties (and the margin's tie rule) are exercised.
    scores = rng.integers(-2, 3, (n_items, n_classes)).astype(np.float64) if n_classes else None
    indices = np.array([rng.permutation(n_memory)[:k] for _ in range(n_items)], dtype=np.int64)
    sims = -np.sort(-rng.uniform(-0.1, 1.0, (n_items, k)), axis=1).astype(np.float32)
    counts = {label: int(rng.integers(0, 20)) for label in pool[:5]}
    return classes, scores, Neighbours(indices.reshape(n_items, k), sims), memory_labels, counts


@settings(max_examples=300, deadline=None)
@given(batches())
def test_vectorised_candidates_match_the_reference(batch):
    classes, scores, neighbours, memory_labels, counts = batch
    got = build_candidates(classes, scores, neighbours, memory_labels, counts)
    want = reference_candidates(classes, scores, neighbours, memory_labels, counts)
    assert got.item.tolist() == [i for i, _, _ in want]
    assert got.labels.tolist() == [label for _, label, _ in want]
    expected = np.array([f for _, _, f in want], dtype=np.float64).reshape(-1, 8)
    np.testing.assert_allclose(got.features, expected, rtol=1e-6, atol=1e-6)


def test_a_reviewed_near_duplicate_decides_over_a_more_probable_label():
    # Item 0: candidate "b" is less probable but its nearest case is a near-duplicate that agrees.
    features = np.zeros((3, 8))
    features[1, 3], features[1, 4] = DUPLICATE_SIMILARITY, 1.0
    cands = Candidates(np.array([0, 0, 1]), np.array(["a", "b", "a"], dtype=object), features)
    best = cands.best_per_item(np.array([0.9, 0.2, 0.7]), 3)
    assert best.tolist() == [1, 2, -1]
