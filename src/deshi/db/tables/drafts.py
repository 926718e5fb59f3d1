"""Drafted replies as they were shown, and the reviewer's verdict on each.

A row is written whenever a draft is made (API, CLI or workbench): the text with its `[n]`
citations, the passage ids it cites, what the faithfulness check found and which guardrails
fired. The reviewer's verdict comes later: `accepted` as is, `edited` (the final text kept, and
how far it moved from the draft as a normalised edit distance) or `rejected`. Accepted and
edited drafts of a process are its past answers, given to the drafter as examples
(`deshi.drafting.past_answers`); the drafting KPIs read this table (`deshi.kpis.drafting`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, str_enum, utcnow

__all__ = ["DraftAutosendState", "DraftVerdict", "StoredDraft"]


class DraftVerdict(StrEnum):
    """What the reviewer did with a draft."""

    ACCEPTED = "accepted"
    EDITED = "edited"
    REJECTED = "rejected"


class StoredDraft(Base):
    """One draft as it was shown; `verdict` is None until a reviewer judges it."""

    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_process_id_verdict", "process_id", "verdict"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(200))  # the item's suggested label
    # The process's drafting field this draft filled (deshi.processes.draft_fields); None for a
    # reply. Filled values are never past answers, nor scored for sending without review.
    field: Mapped[str | None] = mapped_column(String(64))
    # The message's embedding (float32 bytes), so past answers are found without embedding
    # every earlier message again; None for drafts of no item.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    drafter: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[Any]] = mapped_column(default=list)  # passage ids the text cites
    examples: Mapped[int] = mapped_column(default=0)  # past answers given to the drafter
    sentences: Mapped[int] = mapped_column(default=0)
    supported_sentences: Mapped[int] = mapped_column(default=0)
    faithfulness: Mapped[float] = mapped_column(Float)
    has_unsupported_claim: Mapped[bool]
    guardrails: Mapped[list[Any]] = mapped_column(default=list)
    redactions: Mapped[int] = mapped_column(default=0)
    refusals: Mapped[int] = mapped_column(default=0)
    injection_blocks: Mapped[int] = mapped_column(default=0)
    model_failures: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verdict: Mapped[DraftVerdict | None] = mapped_column(str_enum(DraftVerdict, "draft_verdict"))
    final_text: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[float | None] = mapped_column(Float)
    verdict_by: Mapped[str | None] = mapped_column(String(200))
    verdict_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sent without review (deshi.drafting.autosend): the score the certification ranks by
    # (None for drafts of no item), what the auto-send path decided for a draft it made
    # (`sent`, `audit_sample`, or why it held it; None for drafts a person asked for) and when
    # the draft was sent.
    score: Mapped[float | None] = mapped_column(Float)
    autosend: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DraftAutosendState(Base):
    """A process's certified draft threshold and the blind audit's verdict on sent drafts,
    recomputed by the worker when verdicts accumulate (`deshi.drafting.autosend_state`)."""

    __tablename__ = "draft_autosend_states"

    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), primary_key=True)
    threshold: Mapped[float | None] = mapped_column(Float)  # None: nothing certified
    certified_bound: Mapped[float | None] = mapped_column(Float)
    judged: Mapped[int] = mapped_column(default=0)  # drafts with a verdict and a score
    needed: Mapped[int] = mapped_column(default=0)  # fewest clean verdicts that could certify
    epsilon: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    audited: Mapped[int] = mapped_column(default=0)  # audit-sample drafts with a verdict
    audit_errors: Mapped[int] = mapped_column(default=0)
    paused: Mapped[bool] = mapped_column(default=False)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
