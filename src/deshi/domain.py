"""The shared vocabulary of deshi: the enums that tables store and every layer reads.

They live here, below the database and the domain packages, so that `deshi.db.tables` can name
them without importing a service package. Each is a `StrEnum` whose values are what the database
columns and the API carry; renaming a value is a schema change.

    Role          a user's role in one department (the permission model is `deshi.permissions`)
    Mode          how much the agent is trusted on a process
    Stage         where a process is on its rollout plan
    FeaturizerName  how a process's agent turns texts into vectors
    Arm           a randomized arm of a process's comparison (its items' routing)
    NewLabels     who may add a label to a process by answering a review
    ModelStatus   lifecycle of a trained model version
    ItemStatus    lifecycle of an item
    ItemOrigin    whether an item came in live or was imported from a team's history
    FlagStatus    where a label-audit flag on a history item stands
    ReviewAction  what a reviewer did with an item
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Arm",
    "FeaturizerName",
    "FlagStatus",
    "ItemOrigin",
    "ItemStatus",
    "Mode",
    "ModelStatus",
    "NewLabels",
    "ReviewAction",
    "Role",
    "Stage",
]


class Role(StrEnum):
    """A role granted to a user in one department (admin may also be workspace-wide)."""

    ADMIN = "admin"
    OWNER = "owner"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"


class Mode(StrEnum):
    """How much the agent is trusted on a process."""

    SHADOW = "shadow"  # the agent decides silently; humans do all the work
    ASSIST = "assist"  # the suggestion is shown; a human decides
    AUTOPILOT = "autopilot"  # auto-complete within the error budget; hand off the rest


class Stage(StrEnum):
    """Where the process is on its rollout plan."""

    DESIGN = "design"
    LIMITED_PRODUCTION = "limited_production"
    SCALE = "scale"


class FeaturizerName(StrEnum):
    """How a process's agent turns texts into vectors (docs/engine.md)."""

    TFIDF = "tfidf"  # word and character n-grams, words by Sudachi on mostly Japanese texts
    JA_WORDS = "ja_words"  # the same, words always by Sudachi (mixed-language processes)
    EMBEDDINGS = "embeddings"  # MiniLM embeddings beside the n-grams: the `embeddings` extra
    MULTILINGUAL = "multilingual"  # multilingual-e5 embeddings beside the n-grams: any language


class Arm(StrEnum):
    """A randomized arm: how much the agent does for the items drawn into it (items.routing)."""

    HUMAN_ONLY = "human_only"  # humans answer without seeing the agent's suggestion
    ASSISTED = "assisted"  # humans answer with the suggestion shown
    AI_LED = "ai_led"  # the agent completes what it is sure of


class NewLabels(StrEnum):
    """Who may add a label to a process through a review's answer (each addition is audited)."""

    REVIEWERS = "reviewers"  # any reviewer's correction may name a new label
    OWNERS = "owners"  # only those who manage the process; reviewers pick from the label set


class ModelStatus(StrEnum):
    """Lifecycle of a trained model version."""

    CHAMPION = "champion"  # the version deciding live items (at most one per process)
    CHALLENGER = "challenger"  # trained, waiting to prove itself on held-out reviewed items
    RETIRED = "retired"


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


class ItemOrigin(StrEnum):
    """Where an item came from: the live stream, or a team's labelled history (imported)."""

    LIVE = "live"  # ingested, decided and routed by the agent
    HISTORY = "history"  # imported completed with its human label; out of the live KPIs


class FlagStatus(StrEnum):
    """Where a label-audit flag on a history item stands (deshi.history.audit)."""

    OPEN = "open"  # suspected mislabelled, waiting for an owner
    CONFIRMED = "confirmed"  # an owner kept the label
    CORRECTED = "corrected"  # an owner replaced the label
