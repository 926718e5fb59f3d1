"""The API's process schemas; the enums they carry (Mode, Stage) are in `deshi.domain`."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deshi.domain import FeaturizerName, Mode, Stage
from deshi.engine import Policy

__all__ = [
    "AlwaysHumanRule",
    "ProcessCreate",
    "ProcessPublic",
    "ProcessUpdate",
]


_FEATURIZER = "tfidf (default), or embeddings: refused unless the `embeddings` extra is installed."
_RULE_OPS = frozenset({">", ">=", "<", "<=", "==", "!=", "in", "contains"})


class AlwaysHumanRule(BaseModel):
    """An item matching this rule is always reviewed: a regex searched (case-insensitively) in
    the text or in one structured `field`, or a comparison `field op value`."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    pattern: str | None = Field(default=None, min_length=1, max_length=1000)
    field: str | None = Field(default=None, min_length=1, max_length=200)
    op: str | None = Field(default=None, description="One of > >= < <= == != in contains.")
    value: Any = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("op")
    @classmethod
    def _known_op(cls, value: str | None) -> str | None:
        if value is not None and value not in _RULE_OPS:
            raise ValueError(f"op must be one of {' '.join(sorted(_RULE_OPS))}")
        return value

    @model_validator(mode="after")
    def _pattern_or_comparison(self) -> AlwaysHumanRule:
        if self.pattern is None and (self.field is None or self.op is None):
            raise ValueError("a rule needs a pattern, or a field and an op")
        return self


class ProcessCreate(BaseModel):
    """A new process; it starts in shadow mode with the default policy."""

    model_config = ConfigDict(extra="forbid")

    department_id: int
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    labels: list[str] = Field(default_factory=list, max_length=10_000)
    input_fields: list[str] = Field(default_factory=list, max_length=1000)
    featurizer: FeaturizerName = Field(default=FeaturizerName.TFIDF, description=_FEATURIZER)


# Columns that are NOT NULL: a PATCH may omit them but not set them to null.
_NOT_NULL = frozenset(
    {
        "name",
        "description",
        "labels",
        "error_budget",
        "confidence",
        "audit_rate",
        "mode",
        "sensitive_labels",
        "always_human_rules",
        "arms",
        "currency",
        "stage",
        "featurizer",
    }
)


def _policy_field(name: str, description: str | None = None) -> Any:
    """An optional field for one number of the risk policy, within `Policy`'s bounds (which
    OpenAPI shows)."""
    bounds = Policy.BOUNDS[name]
    return Field(default=None, gt=bounds.low, lt=bounds.lt, le=bounds.le, description=description)


class ProcessUpdate(BaseModel):
    """A partial update of a process's description, policy, costs and plan (PATCH)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    labels: list[str] | None = Field(default=None, max_length=10_000)
    error_budget: float | None = _policy_field("error_budget", "ε")
    confidence: float | None = _policy_field("confidence", "1 - δ")
    audit_rate: float | None = _policy_field("audit_rate")
    mode: Mode | None = None
    sensitive_labels: list[str] | None = None
    always_human_rules: list[AlwaysHumanRule] | None = None
    arms: dict[str, float] | None = Field(
        default=None, description="Arm name → share, e.g. {'human_only': 0.1, 'ai_led': 0.9}."
    )
    featurizer: FeaturizerName | None = Field(default=None, description=_FEATURIZER)
    human_minutes_per_item: float | None = Field(default=None, ge=0)
    hourly_rate: float | None = Field(default=None, ge=0)
    cost_per_escaped_error: float | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    stage: Stage | None = None
    planned_limited_production_on: date | None = None
    planned_scale_on: date | None = None

    @field_validator(*sorted(_NOT_NULL))
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:  # only runs when the caller sent the field: omitted fields stay unset
            raise ValueError("cannot be null")
        return value

    @field_validator("arms")
    @classmethod
    def _shares_non_negative(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and any(share < 0 for share in value.values()):
            raise ValueError("arm shares must be >= 0")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the caller set, as column values."""
        values = self.model_dump(exclude_unset=True, mode="python")
        if self.always_human_rules is not None:
            values["always_human_rules"] = [
                r.model_dump(exclude_none=True) for r in self.always_human_rules
            ]
        return values


class ProcessPublic(BaseModel):
    """A process as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    department_id: int
    name: str
    description: str
    labels: list[str]
    input_fields: list[str]
    error_budget: float
    confidence: float
    audit_rate: float
    mode: Mode
    sensitive_labels: list[str]
    always_human_rules: list[dict[str, Any]]
    arms: dict[str, Any]
    featurizer: FeaturizerName
    human_minutes_per_item: float | None
    hourly_rate: float | None
    cost_per_escaped_error: float | None
    currency: str
    owner_user_id: int | None
    stage: Stage
    planned_limited_production_on: date | None
    planned_scale_on: date | None
    created_at: datetime
    archived_at: datetime | None
