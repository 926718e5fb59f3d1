"""Small builders of ItemRecord for the KPI tests (plain functions, no fixtures needed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from deshi.kpis.records import Arm, ItemRecord, ReviewAction, RouteName

MONDAY = datetime(2025, 1, 6, 9, 0)  # ISO week 2025-W02


def auto_item(*, day: float = 0.0, arm: Arm = "ai_led", label: str = "a") -> ItemRecord:
    """An item the agent completed alone, with no human time."""
    at = MONDAY + timedelta(days=day)
    return ItemRecord(created_at=at, arm=arm, route="auto", agent_label=label, completed_at=at)


def reviewed_item(
    *,
    day: float = 0.0,
    arm: Arm = "assisted",
    route: RouteName = "review",
    agent: str | None = "a",
    final: str = "a",
    action: ReviewAction = "accept",
    seconds: float = 60.0,
    reviewer: str = "r1",
    confidence: float | None = None,
    review_delay_hours: float = 1.0,
) -> ItemRecord:
    """An item a human reviewed `review_delay_hours` after it arrived."""
    at = MONDAY + timedelta(days=day)
    return ItemRecord(
        created_at=at,
        arm=arm,
        route=route,
        agent_label=agent,
        final_label=final,
        review_action=action,
        handling_seconds=seconds,
        reviewer_id=reviewer,
        completed_at=at + timedelta(hours=review_delay_hours),
        confidence=confidence,
    )


def audit_item(*, day: float = 0.0, wrong: bool = False, seconds: float = 60.0) -> ItemRecord:
    """A blind audit of an item the policy would have auto-completed."""
    return reviewed_item(
        day=day,
        arm="ai_led",
        route="audit",
        final="b" if wrong else "a",
        action="correct" if wrong else "accept",
        seconds=seconds,
    )


def human_only_item(*, day: float = 0.0, seconds: float = 600.0) -> ItemRecord:
    """An item from the human-only arm: no suggestion, all human time."""
    return reviewed_item(day=day, arm="human_only", agent=None, seconds=seconds)


def open_item(*, created: datetime, route: RouteName = "review") -> ItemRecord:
    """An item still waiting in the queue."""
    return ItemRecord(created_at=created, arm="assisted", route=route, agent_label="a")
