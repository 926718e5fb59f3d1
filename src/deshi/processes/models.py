"""The API's process schemas; the enums they carry (Mode, Stage) are in `deshi.domain`."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deshi.domain import Arm, FeaturizerName, Mode, NewLabels, Stage
from deshi.engine import Policy
from deshi.inputs import DbId, InputModel
from deshi.processes.draft_fields import (
    MAX_DRAFT_FIELDS,
    MAX_FIELD_NAME_CHARS,
    MAX_INSTRUCTION_CHARS,
)
from deshi.processes.label_guidance import MAX_GUIDANCE_CHARS, MAX_GUIDED_LABELS
from deshi.processes.rule_patterns import MAX_PATTERN_CHARS, MAX_RULES, compile_pattern

__all__ = [
    "AlwaysHumanRule",
    "DepartmentCreate",
    "DepartmentPublic",
    "DepartmentUpdate",
    "LabelNamesUpdate",
    "LabelPublic",
    "ProcessCreate",
    "ProcessPublic",
    "ProcessUpdate",
]


_FEATURIZER = (
    "tfidf (default: n-grams, Japanese words by Sudachi when most texts are Japanese), ja_words"
    " (Sudachi words always), multilingual (multilingual-e5 embeddings beside the n-grams), or"
    " embeddings (MiniLM, English): refused unless the `embeddings` extra is installed."
)
_DRAFT_AUTOSEND = (
    "Send the drafts of auto-completed items without review, only under a certified draft "
    "threshold and only drafts with every sentence supported and no guardrail fired "
    "(docs/drafting.md, 'Sent without review'). Off by default: drafts are suggestions only."
)
_LABEL_GUIDANCE = (
    "Drafting guidance per label, {label code: text}: the owner's instructions for replies to "
    "items of that label, given to the language-model drafters as instructions (the item's "
    "text and the passages stay data); the extractive drafter cannot follow them. A PATCH "
    "merges: a text sets (trimmed, at most "
    f"{MAX_GUIDANCE_CHARS} characters), an empty one removes, labels left out keep theirs; at "
    f"most {MAX_GUIDED_LABELS} labels have guidance."
)
_DRAFT_FIELDS = (
    "Fields to fill from the documents for each item, {name: instruction}, e.g. "
    '{"refund_deadline": "How many days the customer has to ask for a refund"}: a draft request '
    "naming a field (`POST /knowledge/draft` with `field`) asks the drafter for that value, short "
    "and cited, instead of a reply. A PATCH merges: an instruction sets (trimmed, at most "
    f"{MAX_INSTRUCTION_CHARS} characters), an empty one removes, fields left out keep theirs; a "
    f"name is letters, digits and _ (at most {MAX_FIELD_NAME_CHARS} characters, not starting "
    f"with a digit); at most {MAX_DRAFT_FIELDS} fields."
)
_RULE_OPS = frozenset({">", ">=", "<", "<=", "==", "!=", "in", "contains"})
_ARMS = ", ".join(arm.value for arm in Arm)
ARM_SHARES_TOLERANCE = 1e-6  # shares are typed by people: 0.1 + 0.2 + 0.7 is not exactly 1.0

# Bounds that keep a process row (and each audit snapshot of it) small.
MAX_LABELS = 2000
MAX_LABEL_CHARS = 200
Label = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_CHARS)]
GuidanceText = Annotated[str, Field(max_length=MAX_GUIDANCE_CHARS)]
FieldName = Annotated[str, Field(min_length=1, max_length=MAX_FIELD_NAME_CHARS)]
FieldInstruction = Annotated[str, Field(max_length=MAX_INSTRUCTION_CHARS)]


class AlwaysHumanRule(InputModel):
    """An item matching this rule is always reviewed: an RE2 regular expression searched
    (case-insensitively, in time linear in the text) in the text or in one structured `field`,
    or a comparison `field op value`."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    pattern: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_PATTERN_CHARS,
        description="RE2 syntax: no backreferences or lookaround; `\\z` ends the text.",
    )
    field: str | None = Field(default=None, min_length=1, max_length=200)
    op: str | None = Field(default=None, description="One of > >= < <= == != in contains.")
    value: Any = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_pattern(value)  # ValueError with RE2's reason
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
        "new_labels",
        "draft_autosend",
        "label_guidance",
        "draft_fields",
    }
)


def _omittable_not_nullable(schema: dict[str, Any]) -> None:
    """The JSON schema of `ProcessUpdate` says what its validator does: a NOT NULL column's
    field may be left out, but not sent as null (the `X | None` type only marks it optional)."""
    for name in _NOT_NULL:
        prop = schema["properties"][name]
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if len(options) == 1:
            prop.update(options[0])
        else:
            prop["anyOf"] = options
        prop.pop("default", None)


def _policy_field(name: str, description: str | None = None) -> Any:
    """An optional field for one number of the risk policy, within `Policy`'s bounds (which
    OpenAPI shows)."""
    bounds = Policy.BOUNDS[name]
    return Field(default=None, gt=bounds.low, lt=bounds.lt, le=bounds.le, description=description)


class ProcessCreate(InputModel):
    """A new process; unless told otherwise it starts in shadow mode with the default policy."""

    department_id: DbId
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    labels: list[Label] = Field(default_factory=list, max_length=MAX_LABELS)
    input_fields: list[str] = Field(default_factory=list, max_length=1000)
    featurizer: FeaturizerName = Field(default=FeaturizerName.TFIDF, description=_FEATURIZER)
    # the policy to start with; omitted numbers take the default policy, the mode shadow
    error_budget: float | None = _policy_field("error_budget", "ε")
    confidence: float | None = _policy_field("confidence", "1 - δ")
    audit_rate: float | None = _policy_field("audit_rate")
    mode: Mode = Mode.SHADOW

    def policy(self) -> dict[str, Any]:
        """The policy values the caller chose, as column values."""
        chosen = {
            "error_budget": self.error_budget,
            "confidence": self.confidence,
            "audit_rate": self.audit_rate,
        }
        return {"mode": self.mode} | {k: v for k, v in chosen.items() if v is not None}


class ProcessUpdate(InputModel):
    """A partial update of a process's description, policy, costs and plan (PATCH)."""

    model_config = ConfigDict(json_schema_extra=_omittable_not_nullable)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    labels: list[Label] | None = Field(default=None, max_length=MAX_LABELS)
    error_budget: float | None = _policy_field("error_budget", "ε")
    confidence: float | None = _policy_field("confidence", "1 - δ")
    audit_rate: float | None = _policy_field("audit_rate")
    mode: Mode | None = None
    sensitive_labels: list[Label] | None = Field(default=None, max_length=MAX_LABELS)
    always_human_rules: list[AlwaysHumanRule] | None = Field(default=None, max_length=MAX_RULES)
    arms: dict[str, float] | None = Field(
        default=None,
        description=(
            f"Arm name ({_ARMS}) → share in [0, 1]; the shares sum to 1, e.g. "
            "{'human_only': 0.1, 'ai_led': 0.9}. {} ends the comparison."
        ),
    )
    new_labels: NewLabels | None = Field(
        default=None,
        description=(
            "Who may add a label by answering a review: reviewers (any correction may name a "
            "new label) or owners (only those who manage the process; reviewers pick from the "
            "label set). Each addition is audited as `process.labels_added`."
        ),
    )
    featurizer: FeaturizerName | None = Field(default=None, description=_FEATURIZER)
    draft_autosend: bool | None = Field(default=None, description=_DRAFT_AUTOSEND)
    label_guidance: dict[Label, GuidanceText] | None = Field(
        default=None, max_length=MAX_LABELS, description=_LABEL_GUIDANCE
    )
    draft_fields: dict[FieldName, FieldInstruction] | None = Field(
        default=None, max_length=MAX_DRAFT_FIELDS, description=_DRAFT_FIELDS
    )
    human_minutes_per_item: float | None = Field(default=None, ge=0)
    hourly_rate: float | None = Field(default=None, ge=0)
    cost_per_escaped_error: float | None = Field(default=None, ge=0)
    running_cost_per_week: float | None = Field(
        default=None,
        ge=0,
        description="What running the agent costs per week (hosting, licences, model calls), "
        "charged in net savings and ROI.",
    )
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
    def _known_arms_sharing_one(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if not value:
            return value
        unknown = sorted(set(value) - {arm.value for arm in Arm})
        if unknown:
            raise ValueError(f"unknown arm {unknown[0]!r}; arms are {_ARMS}")
        if any(not 0 <= share <= 1 for share in value.values()):
            raise ValueError("each arm's share is between 0 and 1")
        total = math.fsum(value.values())
        if abs(total - 1) > ARM_SHARES_TOLERANCE:
            raise ValueError(f"arm shares must sum to 1, not {total:g}")
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
    new_labels: NewLabels
    draft_autosend: bool = Field(default=False, description=_DRAFT_AUTOSEND)
    label_names: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Readable label names per language: {language: {code: name}}.",
    )
    label_guidance: dict[str, str] = Field(default_factory=dict, description=_LABEL_GUIDANCE)
    draft_fields: dict[str, str] = Field(default_factory=dict, description=_DRAFT_FIELDS)
    human_minutes_per_item: float | None
    hourly_rate: float | None
    cost_per_escaped_error: float | None
    running_cost_per_week: float | None
    currency: str
    owner_user_id: int | None
    stage: Stage
    planned_limited_production_on: date | None
    planned_scale_on: date | None
    created_at: datetime
    archived_at: datetime | None


class LabelNamesUpdate(InputModel):
    """Readable label names to set, per language; the others stay as they are."""

    names: dict[str, dict[str, str]] = Field(
        max_length=2,
        description=(
            'Language ("en" or "ja") → {label code: name}, e.g. {"ja": {"card_arrival": '
            '"カード未着"}}. An empty name removes one: the label shows its code again.'
        ),
    )


class LabelPublic(BaseModel):
    """A label of a process: its code and the names it has been given."""

    code: str = Field(description="The value items and reviews carry.")
    names: dict[str, str] = Field(description="Language → readable name, for those given.")


class DepartmentCreate(InputModel):
    """A new department."""

    name: str = Field(min_length=1, max_length=200)


class DepartmentUpdate(InputModel):
    """A department's new name."""

    name: str = Field(min_length=1, max_length=200)


class DepartmentPublic(BaseModel):
    """A department as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    archived_at: datetime | None
