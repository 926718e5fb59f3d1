"""The API's history schemas: rows in, the import summary, the label audit's flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from deshi.history.reader import MAX_ID_CHARS, MAX_LABEL_CHARS, MAX_TEXT_CHARS
from deshi.inputs import InputModel

__all__ = [
    "FlagResolve",
    "GoLiveFigures",
    "GoLivePublic",
    "GoLiveStatus",
    "HistoryBatchCreate",
    "HistoryImportPublic",
    "HistoryRowIn",
    "HistoryState",
    "HistorySummary",
    "LabelFlagPublic",
    "RetrainPublic",
]

MAX_HISTORY_BATCH = 5000


class HistoryRowIn(InputModel):
    """One past item with the label a person gave it."""

    text: str = Field(max_length=MAX_TEXT_CHARS, description="Blank texts are skipped, counted.")
    label: str = Field(max_length=MAX_LABEL_CHARS, description="Blank labels are skipped, counted.")
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="The id in the source system; re-sending it is a no-op. Without one, the "
        "row's id is a hash of its text and label.",
    )
    time: datetime | None = Field(default=None, description="When it was done (default: now).")
    fields: dict[str, Any] = Field(default_factory=dict, description="Structured fields.")
    handling_seconds: float | None = Field(
        default=None, ge=0, description="Seconds a person spent on it, if the source knows."
    )


class HistoryBatchCreate(InputModel):
    """Rows of history, all-or-nothing; the import ends with a retrain unless `retrain` is
    false (send it false on every batch but the last of a large import)."""

    rows: list[HistoryRowIn] = Field(min_length=1, max_length=MAX_HISTORY_BATCH)
    add_labels: bool = Field(
        default=False,
        description="Add labels the process does not know yet; otherwise they are refused. "
        "A process with no labels takes the labels found in the history.",
    )
    retrain: bool = True
    audit: bool = Field(
        default=True, description="Audit the labels after the retrain (minutes on 100,000 rows)."
    )


class HistorySummary(BaseModel):
    """What one import found and did."""

    import_id: int | None = None
    source: str = ""
    format: str | None = None
    encoding: str | None = None
    rows: int = 0
    imported: int = 0
    skipped_blank_text: int = 0
    skipped_blank_label: int = 0
    already_imported: int = Field(0, description="Rows whose external_id was stored before.")
    repeated_ids: int = Field(0, description="Rows repeating an external_id earlier in the file.")
    labels: dict[str, int] = Field(default_factory=dict, description="Imported rows per label.")
    labels_added: list[str] = Field(default_factory=list)
    conflicting_duplicates: int = Field(
        0,
        description="Rows whose text (ignoring case, spacing and punctuation) recurs with "
        "another label.",
    )
    rare_labels: list[str] = Field(
        default_factory=list, description="Labels with too few history rows to auto-complete."
    )
    rare_label_minimum: int = 0
    handling_minutes_mean: float | None = None
    suspicious: int | None = Field(None, description="Rows the label audit flagged.")
    estimated_noise_rate: float | None = Field(
        None, description="Share of history rows whose label the audit doubts."
    )
    model_version: int | None = None
    threshold: float | None = None
    expected_automation: float | None = None
    seconds: dict[str, float] = Field(
        default_factory=dict, description="Wall time of each phase: import, retrain, audit."
    )


class HistoryImportPublic(BaseModel):
    """One stored import."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    actor: str
    source: str
    summary: dict[str, Any]
    created_at: datetime


class HistoryState(BaseModel):
    """A process's history: how many items, their labels, the audit's open flags, the imports."""

    process_id: int
    items: int
    labels: dict[str, int]
    open_flags: int
    corrected: int
    estimated_noise_rate: float | None
    imports: list[HistoryImportPublic]


class LabelFlagPublic(BaseModel):
    """A history item whose label the audit doubts, most suspicious first."""

    id: int
    item_id: int
    external_id: str | None
    text: str
    label: str
    current_label: str | None
    suggested_label: str | None
    score: float
    reasons: list[str]
    status: str


class FlagResolve(InputModel):
    """An owner's answer on a flag: keep the label, or replace it."""

    action: Literal["confirm", "correct"]
    label: str | None = Field(
        default=None, min_length=1, max_length=MAX_LABEL_CHARS, description="For correct."
    )


class RetrainPublic(BaseModel):
    """The retrain after label corrections."""

    version: int
    promoted: bool
    threshold: float | None
    expected_automation: float


GoLiveStatus = Literal["none", "queued", "done", "failed"]


class GoLiveFigures(BaseModel):
    """What the agent, trained on the older history, did on its most recent slice.

    Shares are of the slice's items; intervals are two-sided at the process's confidence
    1 − δ (Wilson for the automation, exact Clopper–Pearson for the error), and `error_upper`
    is the one-sided Clopper–Pearson upper bound at 1 − δ that the verdict holds against ε."""

    trained_on: int = Field(description="Older history items the agent learned from.")
    items: int = Field(description="Most recent history items replayed (the slice).")
    auto: int = Field(description="Slice items it would have auto-completed.")
    auto_errors: int = Field(description="Of those, how many had another label than the human's.")
    automation: float
    automation_low: float
    automation_high: float
    error: float | None = Field(description="Error among auto-completed items; None if none.")
    error_low: float | None
    error_high: float | None
    error_upper: float | None
    threshold: float | None = Field(description="The threshold certified on the older history.")
    seconds: float


class GoLivePublic(BaseModel):
    """The latest go-live check of a process: what autopilot would have done on the most
    recent slice of the history, with a verdict against the error budget."""

    process_id: int
    status: GoLiveStatus = Field(description="none: never run; queued: waiting for the worker.")
    check_id: int | None = None
    requested_by: str | None = None
    requested_at: datetime | None = None
    finished_at: datetime | None = None
    error_budget: float = Field(description="ε the check was (or will be) run at.")
    confidence: float = Field(description="1 − δ the check was (or will be) run at.")
    stale: bool = Field(
        default=False, description="The policy or the history changed since: run it again."
    )
    history_items: int = Field(description="History items the process has now.")
    verdict: str | None = Field(
        default=None,
        description="holds | uncertain | breaks | nothing_automated | too_little_history",
    )
    message: str | None = Field(default=None, description="The verdict as an English sentence.")
    params: dict[str, Any] = Field(default_factory=dict, description="The sentence's numbers.")
    figures: GoLiveFigures | None = None
    error: str | None = Field(default=None, description="Why a failed check failed.")

    @property
    def code(self) -> str:
        """The verdict's sentence code in deshi.kpis.explain (the UI translates it)."""
        return f"golive_{self.verdict}"
