"""Tables of the work: processes, their model versions, items, decisions and reviews."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sql_false
from sqlalchemy import text as sql_text  # `text` is also a column name below
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, str_enum, utcnow
from deshi.domain import ItemStatus, Mode, ModelStatus, ReviewAction, Stage
from deshi.engine.types import DEFAULT_POLICY, Policy, Route, RouteReason

__all__ = ["Decision", "Item", "ModelVersion", "Process", "Review"]


class Process(Base):
    """One narrow back-office task: its schema, policy, costs, owner and rollout plan."""

    __tablename__ = "processes"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[list[Any]] = mapped_column(default=list)  # the label set; it can grow
    input_fields: Mapped[list[Any]] = mapped_column(default=list)  # structured field names
    # policy (defaults: deshi.engine.Policy)
    error_budget: Mapped[float] = mapped_column(Float, default=DEFAULT_POLICY.error_budget)  # ε
    confidence: Mapped[float] = mapped_column(Float, default=DEFAULT_POLICY.confidence)  # 1 - δ
    audit_rate: Mapped[float] = mapped_column(Float, default=DEFAULT_POLICY.audit_rate)
    mode: Mapped[Mode] = mapped_column(str_enum(Mode, "mode"), default=Mode.SHADOW)
    sensitive_labels: Mapped[list[Any]] = mapped_column(default=list)
    always_human_rules: Mapped[list[Any]] = mapped_column(default=list)
    arms: Mapped[dict[str, Any]] = mapped_column(default=dict)  # arm name → proportion
    # the agent's featurizer: "tfidf" or "embeddings" (deshi.processes.models.FeaturizerName)
    featurizer: Mapped[str] = mapped_column(String(32), default="tfidf", server_default="tfidf")
    # who may add a label by answering a review: "reviewers" or "owners" (deshi.domain.NewLabels)
    new_labels: Mapped[str] = mapped_column(
        String(16), default="reviewers", server_default="reviewers"
    )
    # display names of labels per language: {"en": {code: name}, "ja": {code: name}}
    label_names: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=sql_text("'{}'")
    )
    # drafting guidance per label, {code: text}: the owner's instructions to the language-model
    # drafters for replies to items of that label (deshi.processes.label_guidance)
    label_guidance: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=sql_text("'{}'")
    )
    # fields to fill from the documents for each item, {name: instruction}, drafted on request
    # instead of a reply (deshi.processes.draft_fields)
    draft_fields: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=sql_text("'{}'")
    )
    # drafts of auto-completed items may be sent without review inside the error budget
    # (deshi.drafting.autosend); off: drafts are suggestions only
    draft_autosend: Mapped[bool] = mapped_column(default=False, server_default=sql_false())
    # bumped when a learned answer is undone: agents rebuild their memory (deshi.learning)
    memory_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # costs
    human_minutes_per_item: Mapped[float | None] = mapped_column(Float)  # measured baseline
    hourly_rate: Mapped[float | None] = mapped_column(Float)
    cost_per_escaped_error: Mapped[float | None] = mapped_column(Float)
    running_cost_per_week: Mapped[float | None] = mapped_column(Float)  # licences, hosting, LLM
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # ownership and plan
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage, "stage"), default=Stage.DESIGN)
    planned_limited_production_on: Mapped[date | None]
    planned_scale_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def policy(self) -> Policy:
        """The risk policy the policy columns hold (PolicyError if stored out of bounds)."""
        return Policy(
            error_budget=self.error_budget, confidence=self.confidence, audit_rate=self.audit_rate
        )


class ModelVersion(Base):
    """A trained model of a process: its artifact, metrics and the threshold calibrated for it."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), index=True)
    version: Mapped[int]
    status: Mapped[ModelStatus] = mapped_column(
        str_enum(ModelStatus, "model_status"), default=ModelStatus.CHALLENGER
    )
    # A model file (deshi.engine.serialize), megabytes each: deferred, so a row read for its
    # number, status or metrics does not read the file (an answer in the workbench read one to
    # learn a version number); the readers that load a model select it (`fetch_binary`).
    artifact: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    threshold: Mapped[float | None] = mapped_column(Float)
    trained_on: Mapped[int] = mapped_column(default=0)  # number of reviewed items used
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Item(Base):
    """One unit of work; `external_id` is unique per process so re-submission is idempotent."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("process_id", "external_id"),
        Index("ix_items_process_id_status", "process_id", "status"),
        Index("ix_items_process_id_entity_key", "process_id", "entity_key"),
        # a period's items, and a process's newest (the KPI reads and cache, r0022)
        Index("ix_items_process_id_created_at", "process_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    entity_key: Mapped[str | None] = mapped_column(String(200))
    arm: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[ItemStatus] = mapped_column(
        str_enum(ItemStatus, "item_status"), default=ItemStatus.RECEIVED
    )
    lease_owner: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "live" or "history" (deshi.domain.ItemOrigin): history items are imported completed, with
    # their human label in `history_label` (a live item's label is its reviews' final label),
    # and the handling time the source system recorded, if any; the live KPIs leave them out.
    origin: Mapped[str] = mapped_column(String(16), default="live", server_default="live")
    history_label: Mapped[str | None] = mapped_column(String(200))
    handling_seconds: Mapped[float | None] = mapped_column(Float)


class Decision(Base):
    """What the agent said about an item and where it routed it, with its reasons."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    label: Mapped[str | None] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column(Float)
    alternatives: Mapped[list[Any]] = mapped_column(default=list)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    route: Mapped[Route] = mapped_column(str_enum(Route, "route"))
    # The English sentence of decisions stored before r0007 (the engine wrote it then); only a
    # decision without a reason code (before r0002) is explained by it. Empty for newer rows.
    legacy_reason: Mapped[str] = mapped_column("reason", Text, default="")
    threshold: Mapped[float | None] = mapped_column(Float)
    reason_code: Mapped[RouteReason | None] = mapped_column(str_enum(RouteReason, "route_reason"))
    reason_params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # see RouteReason
    audit_rate: Mapped[float | None] = mapped_column(Float)  # the audit rate in force
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The department's passages found for the item's text, stored when the item is first shown
    # (deshi.items.passages): NULL until then, [] when the knowledge base had nothing.
    evidence_passages: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    passages_retrieved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Review(Base):
    """A human's answer on an item; every one feeds learning."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[ReviewAction] = mapped_column(str_enum(ReviewAction, "review_action"))
    final_label: Mapped[str | None] = mapped_column(String(200))
    seconds: Mapped[float | None] = mapped_column(Float)  # time spent, for the cost KPIs
    blind: Mapped[bool] = mapped_column(default=False)  # audit sample: no suggestion was shown
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
