"""Randomized arms: a deterministic, content-blind coin for each item.

The arm depends only on (seed, key) through SHA-256, so a retried item lands in the same arm and
the assignment cannot correlate with the item's text: the arms compare like with like.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

__all__ = ["assign_arm", "unit_interval_hash"]

_UNIT = float(2**64)


def unit_interval_hash(key: str, seed: int | str = 0) -> float:
    """A number in [0, 1) that is uniform over keys and fixed for a given (seed, key)."""
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _UNIT


def _validated(proportions: Mapping[str, float]) -> list[tuple[str, float]]:
    if not proportions:
        raise ValueError("proportions must name at least one arm")
    if not all(math.isfinite(share) and share >= 0 for share in proportions.values()):
        raise ValueError(f"proportions must be finite and >= 0, got {dict(proportions)}")
    largest = max(proportions.values())
    if largest <= 0:
        raise ValueError("proportions must not all be 0")
    # Scaled by the largest share first, so that huge shares (1e308) cannot overflow the sum.
    scaled = {arm: share / largest for arm, share in proportions.items()}
    total = sum(scaled.values())
    # Sorted by name so the result does not depend on the mapping's insertion order.
    return [(arm, share / total) for arm, share in sorted(scaled.items())]


def assign_arm(key: str, proportions: Mapping[str, float], seed: int | str = 0) -> str:
    """The arm of the item identified by `key`; arms are drawn with the given (relative) shares."""
    shares = _validated(proportions)
    draw = unit_interval_hash(key, seed)
    cumulative = 0.0
    for arm, share in shares:
        cumulative += share
        if draw < cumulative:
            return arm
    return next(arm for arm, share in reversed(shares) if share > 0)  # rounding at the top end
