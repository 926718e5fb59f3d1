"""Plain inputs of the KPI arithmetic: item records, model promotions, costs and the owner's policy.

These are deliberately storage-agnostic frozen dataclasses: the database layer builds them, the
pure functions in `deshi.kpis` read them. Time stamps are timezone-aware or naive consistently
(the functions only compare and subtract them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal, TypeVar

from deshi.engine.types import DEFAULT_POLICY, Policy

__all__ = [
    "ARMS",
    "Arm",
    "Costs",
    "ItemRecord",
    "KpiPolicy",
    "ModelEvent",
    "ReviewAction",
    "RouteName",
    "by_month",
    "by_week",
    "iso_week",
    "month_of",
    "only_arm",
    "per_week",
    "week_end",
    "weeks_spanned",
]

Arm = Literal["human_only", "assisted", "ai_led"]
RouteName = Literal["auto", "review", "audit"]
ReviewAction = Literal["accept", "correct", "escalate"]
ARMS: tuple[Arm, ...] = ("human_only", "assisted", "ai_led")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One decided item as the KPIs see it.

    `handling_seconds` is the human time spent on the item (0 for auto-completed items).
    `final_label` is None until a human has reviewed the item. `suggestion_shown` says whether the
    reviewer saw the agent's label; None means "derive it": a suggestion is shown on the review
    route outside the human-only arm whenever the agent had a label (audits are blind).
    """

    created_at: datetime
    arm: Arm
    route: RouteName
    agent_label: str | None
    final_label: str | None = None
    review_action: ReviewAction | None = None
    handling_seconds: float = 0.0
    reviewer_id: str | None = None
    completed_at: datetime | None = None
    confidence: float | None = None
    suggestion_shown: bool | None = None

    def __post_init__(self) -> None:
        if self.handling_seconds < 0:
            raise ValueError(f"handling_seconds must be >= 0, got {self.handling_seconds}")
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")

    @property
    def is_completed(self) -> bool:
        """True once the item left the queue (auto-completed or reviewed)."""
        return self.completed_at is not None

    @property
    def is_reviewed(self) -> bool:
        """True when a human acted on the item."""
        return self.review_action is not None

    @property
    def showed_suggestion(self) -> bool:
        """True when the reviewer saw the agent's label before deciding."""
        if self.suggestion_shown is not None:
            return self.suggestion_shown
        return self.route == "review" and self.arm != "human_only" and self.agent_label is not None

    @property
    def agent_was_right(self) -> bool | None:
        """Agent label equals the human's final label; None when either is missing."""
        if self.agent_label is None or self.final_label is None:
            return None
        return self.agent_label == self.final_label


@dataclass(frozen=True, slots=True)
class ModelEvent:
    """A model promotion: when, its held-out accuracy, and how many reviews it had learned from."""

    promoted_at: datetime
    accuracy: float
    n_reviews_at_promotion: int


@dataclass(frozen=True, slots=True)
class Costs:
    """What time, errors and the platform cost, in one currency."""

    hourly_rate: float
    cost_per_escaped_error: float
    currency: str = "JPY"
    running_cost_per_week: float = 0.0

    def __post_init__(self) -> None:
        if min(self.hourly_rate, self.cost_per_escaped_error, self.running_cost_per_week) < 0:
            raise ValueError("costs must be >= 0")


@dataclass(frozen=True, slots=True)
class KpiPolicy:
    """The owner's bar for scaling: error budget, confidence, acceptance target, weeks in a row.

    The error budget and the confidence are the process's risk policy, with its defaults and
    bounds (`deshi.engine.Policy`)."""

    error_budget: float = DEFAULT_POLICY.error_budget
    confidence: float = DEFAULT_POLICY.confidence
    acceptance_target: float = 0.8
    weeks_required: int = 2
    min_baseline_items: int = 30

    def __post_init__(self) -> None:
        Policy(error_budget=self.error_budget, confidence=self.confidence)  # PolicyError if out
        if not 0.0 <= self.acceptance_target <= 1.0:
            raise ValueError(f"acceptance_target must be in [0, 1], got {self.acceptance_target}")
        if self.weeks_required < 1 or self.min_baseline_items < 2:
            raise ValueError("weeks_required must be >= 1 and min_baseline_items >= 2")


def iso_week(moment: datetime | date) -> str:
    """ISO week key such as '2025-W03' (sorts chronologically as a string)."""
    return _week_of_day(moment.date() if isinstance(moment, datetime) else moment)


@lru_cache(maxsize=4096)
def _week_of_day(day: date) -> str:
    # KPIs group every item by week, several times a view: a process's days are few
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_end(week: str) -> datetime:
    """The first instant after an ISO week key: the following Monday at 00:00 (naive)."""
    year, week_number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(week_number), 1)
    return datetime.combine(monday + timedelta(days=7), datetime.min.time())


def month_of(moment: datetime | date) -> str:
    """Calendar month key such as '2025-01'."""
    return f"{moment.year}-{moment.month:02d}"


def only_arm(items: Iterable[ItemRecord], arm: Arm | None) -> list[ItemRecord]:
    """The items of one arm, or all items when arm is None."""
    return [item for item in items if arm is None or item.arm == arm]


def _group(items: Iterable[T], key: Callable[[T], str | None]) -> dict[str, list[T]]:
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        group = key(item)
        if group is not None:
            groups[group].append(item)
    return dict(sorted(groups.items()))


def by_week(
    items: Iterable[ItemRecord], *, moment: Callable[[ItemRecord], datetime | None] | None = None
) -> dict[str, list[ItemRecord]]:
    """Items grouped by the ISO week of `moment` (default: created_at), weeks in order, each
    week's items in their given order."""
    # a report groups every item several times: by the day's ordinal (day 1 is a Monday, so
    # ordinal weeks are ISO weeks) rather than by a key string built per item
    groups: dict[int, list[ItemRecord]] = defaultdict(list)
    if moment is None:
        for item in items:
            groups[(item.created_at.toordinal() - 1) // 7].append(item)
    else:
        for item in items:
            stamp = moment(item)
            if stamp is not None:
                groups[(stamp.toordinal() - 1) // 7].append(item)
    return {_week_of_ordinal_week(week): groups[week] for week in sorted(groups)}


def _week_of_ordinal_week(week: int) -> str:
    return _week_of_day(date.fromordinal(week * 7 + 1))


def by_month(
    items: Iterable[ItemRecord], *, moment: Callable[[ItemRecord], datetime | None] | None = None
) -> dict[str, list[ItemRecord]]:
    """Items grouped by calendar month of `moment` (default: created_at), months in order."""
    when = moment or (lambda item: item.created_at)

    def month(item: ItemRecord) -> str | None:
        stamp = when(item)
        return None if stamp is None else month_of(stamp)

    return _group(items, month)


def per_week(
    items: Iterable[ItemRecord],
    kpi: Callable[[Sequence[ItemRecord]], T],
    *,
    arm: Arm | None = None,
    moment: Callable[[ItemRecord], datetime | None] | None = None,
) -> dict[str, T]:
    """Any item KPI evaluated per ISO week, optionally for one arm: `per_week(items, accuracy)`."""
    return {
        week: kpi(group) for week, group in by_week(only_arm(items, arm), moment=moment).items()
    }


def weeks_spanned(items: Sequence[ItemRecord]) -> int:
    """Number of ISO weeks from the first to the last item's creation, inclusive (0 if empty)."""
    if not items:
        return 0
    first = min(item.created_at for item in items).date()
    last = max(item.created_at for item in items).date()
    first_monday = first - timedelta(days=first.weekday())
    return (last - first_monday).days // 7 + 1
