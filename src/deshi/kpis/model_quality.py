"""Model layer: how often the agent is right, how honest its confidence is, and the real error
of auto-completion measured on the blind audit sample."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from deshi.engine.metrics import (
    Estimate,
    bootstrap_interval,
    expected_calibration_error,
    proportion_exact,
    proportion_wilson,
)
from deshi.kpis.records import ItemRecord

__all__ = [
    "accuracy",
    "audit_counts",
    "calibration_error",
    "error_budget_holds",
    "realized_auto_error",
]


def _judged(items: Sequence[ItemRecord]) -> list[ItemRecord]:
    """Items where both the agent's and the human's label are known."""
    return [item for item in items if item.agent_was_right is not None]


def accuracy(items: Sequence[ItemRecord], *, confidence: float = 0.95) -> Estimate | None:
    """Share of reviewed items whose agent label equals the final label (Wilson interval)."""
    judged = _judged(items)
    right = sum(1 for item in judged if item.agent_was_right)
    return proportion_wilson(right, len(judged), confidence=confidence)


def calibration_error(
    items: Sequence[ItemRecord],
    *,
    bins: int = 10,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate | None:
    """Expected calibration error on reviewed items that carry a confidence (seeded bootstrap):
    `deshi.engine.metrics.calibration_error_estimate`, to the last bit (`_resampled_gaps`).

    The result is remembered in this process by a digest of its exact inputs (`_CALIBRATIONS`):
    after a new review a report recomputes the bootstrap of the week it changed and of the
    period, and reads the other weeks' back."""
    judged = [item for item in _judged(items) if item.confidence is not None]
    confidences = [item.confidence for item in judged if item.confidence is not None]
    if not confidences:
        return None
    correct = [bool(item.agent_was_right) for item in judged]
    key = _calibration_key(confidences, correct, (bins, confidence, resamples, seed))
    with _CALIBRATIONS_LOCK:  # pages are served from several threads
        found = _CALIBRATIONS.get(key)
        if found is not None:
            _CALIBRATIONS.move_to_end(key)
            return found
    point = expected_calibration_error(confidences, correct, bins=bins)
    found = bootstrap_interval(
        _resampled_gaps(confidences, correct, bins),
        len(confidences),
        point=point,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )
    if found is not None:
        with _CALIBRATIONS_LOCK:
            _CALIBRATIONS[key] = found
            if len(_CALIBRATIONS) > CALIBRATIONS_KEPT:
                _CALIBRATIONS.popitem(last=False)
    return found


# The calibration bootstraps computed lately, by a digest of their inputs. The bootstrap is a
# pure function of them (seeded), so an equal digest is an equal result: a memo, never stale.
# A digest keeps the memo small (the inputs of a period are 100,000 numbers).
CALIBRATIONS_KEPT = 512
_CALIBRATIONS: OrderedDict[bytes, Estimate] = OrderedDict()
_CALIBRATIONS_LOCK = threading.Lock()


def _calibration_key(
    confidences: Sequence[float], correct: Sequence[bool], settings: tuple[object, ...]
) -> bytes:
    digest = hashlib.sha256(repr(settings).encode())
    digest.update(np.asarray(confidences, dtype=np.float64).tobytes())
    digest.update(np.asarray(correct, dtype=np.bool_).tobytes())
    return digest.digest()


def _resampled_gaps(
    confidences: Sequence[float], correct: Sequence[bool], bins: int
) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    """The ECE of each row of a (rows x n) matrix of resampled indices, equal to the engine's
    `_calibration_gaps` of the gathered confidences and hits, in fewer passes over the matrix.

    The bootstrap of every judged item is most of a KPI report's arithmetic (a thousand rows of
    tens of thousands of indices). Each item's bin is computed once instead of once a draw, and
    the hits of a bin are counted (exact integers, as the engine's float sums of 0/1 are) from
    one gathered key, bin and hit together. The confidences of a bin are still summed by
    `bincount` in the order of the draws, so every sum, and the interval, is the same float.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.bool_)
    keys_of_items = np.minimum((conf * bins).astype(np.int64), bins - 1) * 2 + hits

    def gaps(indices: NDArray[np.int64]) -> NDArray[np.float64]:
        rows, n = indices.shape
        keys = keys_of_items[indices]  # bin * 2 + hit of every draw
        keys += (np.arange(rows, dtype=np.int64) * (2 * bins))[:, None]
        flat = keys.ravel()
        counts = np.bincount(flat, minlength=rows * 2 * bins).reshape(rows, bins, 2)
        flat >>= 1  # row * bins + bin
        weights = conf[indices].ravel()
        conf_sum = np.bincount(flat, weights=weights, minlength=rows * bins).reshape(rows, bins)
        found: NDArray[np.float64] = np.abs(conf_sum - counts[:, :, 1]).sum(axis=1) / n
        return found

    return gaps


def realized_auto_error(
    items: Sequence[ItemRecord], *, confidence: float = 0.95
) -> Estimate | None:
    """Error rate of auto-completion, estimated on the blind audit sample (Clopper-Pearson).

    Audit items are a uniform random share of the items the policy would auto-complete, so their
    error rate is an unbiased estimate of the error of the auto-completed ones. (If the audit rate
    changed within the period, weight by 1 / audit rate instead; per-week estimates avoid that.)
    """
    audits, wrong = audit_counts(items)
    return proportion_exact(wrong, audits, confidence=confidence)


def audit_counts(items: Sequence[ItemRecord]) -> tuple[int, int]:
    """Audited items with both labels known, and how many of them the agent got wrong."""
    audited = [item for item in _judged(items) if item.route == "audit"]
    return len(audited), sum(1 for item in audited if not item.agent_was_right)


def error_budget_holds(auto_error: Estimate | None, error_budget: float) -> bool:
    """True when the upper bound on the realized auto-complete error is within the budget."""
    return auto_error is not None and auto_error.high <= error_budget
