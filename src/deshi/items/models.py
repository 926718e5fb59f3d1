"""Value types of items: their lifecycle status and the actions a reviewer can take."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ItemStatus", "ReviewAction"]


class ItemStatus(StrEnum):
    """Lifecycle: received → decided → auto_completed | queued → claimed → reviewed → completed."""

    RECEIVED = "received"
    DECIDED = "decided"
    AUTO_COMPLETED = "auto_completed"
    QUEUED = "queued"
    CLAIMED = "claimed"  # a reviewer holds a lease on it (lease_owner, lease_expires_at)
    REVIEWED = "reviewed"
    COMPLETED = "completed"


class ReviewAction(StrEnum):
    """What a reviewer did with an item."""

    ACCEPT = "accept"  # the suggested label is right
    CORRECT = "correct"  # the reviewer chose another label
    ESCALATE = "escalate"  # needs someone else; no final label yet
