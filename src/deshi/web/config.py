"""Small value object with the API's limits, set when the app is created."""

from __future__ import annotations

from dataclasses import dataclass, field

from deshi.items.service import IngestLimits
from deshi.reviews.service import DEFAULT_LEASE_SECONDS

__all__ = ["ApiConfig"]


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Request size limits, the review lease length, and whether the app runs the background
    worker (retrains, webhook deliveries) in a thread of its own: right for one node; off in
    tests and when separate worker processes run the jobs."""

    limits: IngestLimits = field(default_factory=IngestLimits)
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    background_worker: bool = False
