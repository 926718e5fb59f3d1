"""The filters of the audit log, shared by its listing, its export, the API, the page and the CLI.

They are query parameters of the API (`GET /audit/events`, `GET /audit/export`), so they derive
from `InputModel`: unknown parameters and unstorable texts are refused before any SQL runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from deshi.inputs import InputModel

__all__ = ["MAX_SEQ", "EventFilter", "EventPageQuery", "ExportQuery"]

# Filter texts: bounded, and no NUL (PostgreSQL refuses it in a text parameter).
FilterText = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
MAX_SEQ = 2**63 - 1  # seq is a BIGINT


class EventFilter(InputModel):
    """Which events to list or export; every field narrows, none given means every event.

    Times are instants: naive ones are taken as UTC. `until` is exclusive."""

    actor: FilterText | None = Field(
        default=None,
        description="Who acted: an actor as stored (`user:3`, `cli:ops`, `system:init`) or "
        "part of a person's display name or email.",
    )
    action: FilterText | None = Field(
        default=None,
        description="An action (`item.review`), or a prefix ending in a dot (`item.`).",
    )
    object_type: FilterText | None = Field(
        default=None, description="What the event is about: `items`, `processes`, `users`, …"
    )
    object_id: FilterText | None = Field(default=None, description="That object's id.")
    since: datetime | None = Field(default=None, description="Events at or after (UTC).")
    until: datetime | None = Field(default=None, description="Events before (UTC).")
    q: FilterText | None = Field(
        default=None,
        description="Free text, found in the actor, action, object or what changed "
        "(before → after); case-insensitive.",
    )

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """Naive instants are UTC; aware ones are converted to it."""
        if value is None:
            return None
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # an offset that pushes it past year 1 or 9999
            raise ValueError("out of range") from None

    def is_empty(self) -> bool:
        """True when nothing narrows the log."""
        return not self.model_dump(exclude_none=True)

    def described(self) -> dict[str, Any]:
        """The filters given, as JSON values (what an export's proof records)."""
        return self.model_dump(mode="json", exclude_none=True)


class EventPageQuery(EventFilter):
    """One page of the filtered log, newest first, by keyset on seq."""

    before: int | None = Field(
        default=None, ge=1, le=MAX_SEQ, description="Only events older than this seq (next page)."
    )
    after: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEQ,
        description="Only events newer than this seq (previous page).",
    )
    limit: int = Field(default=50, ge=1, le=500, description="Events per page.")


class ExportQuery(EventFilter):
    """A filtered range of the log to export, with its proof."""

    format: Literal["csv", "jsonl"] = Field(default="jsonl", description="`csv` or `jsonl`.")
