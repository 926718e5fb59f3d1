"""Stored codes as words of the page's language (deshi.web.ui.names)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deshi.engine.agent import _explain
from deshi.engine.policy import RouteReason
from deshi.engine.types import Route
from deshi.items.models import DecisionPublic
from deshi.web.ui.names import item_arm, route_name, route_reason, status_name


def _decision(code: str | None, reason: str, *, threshold: float | None = 0.95) -> DecisionPublic:
    return DecisionPublic(
        id=1,
        model_version_id=None,
        model_version=1,
        threshold=threshold,
        label="card_arrival",
        confidence=0.9234,
        alternatives=[],
        evidence=[],
        route=Route.REVIEW,
        reason=reason,
        reason_code=code,
        created_at=datetime(2026, 11, 22, tzinfo=UTC),
    )


@pytest.mark.parametrize("code", list(RouteReason))
def test_english_reasons_are_the_engines_own_sentences(code: RouteReason) -> None:
    stored = _explain(code, 0.9234, 0.95, "mentions a lawsuit")
    decision = _decision(code.value, stored)

    assert route_reason(decision, locale="en") == stored
    japanese = route_reason(decision, locale="ja")
    assert japanese != stored and "。" in japanese


def test_a_reason_without_a_threshold_shows_a_dash() -> None:
    stored = _explain(RouteReason.BELOW_THRESHOLD, 0.5, None, None)
    decision = _decision("below_threshold", stored, threshold=None)

    assert "—" in route_reason(decision, locale="ja")


def test_the_rule_name_is_kept_in_any_language() -> None:
    decision = _decision("rule", _explain(RouteReason.RULE, 0.9, 0.95, "契約解除"))

    assert route_reason(decision, locale="ja") == "常に人が判断するルールに該当しました：契約解除。"


def test_unknown_or_missing_codes_show_the_stored_sentence() -> None:
    for code in (None, "a_future_reason"):
        assert route_reason(_decision(code, "Stored sentence."), locale="ja") == "Stored sentence."


def test_status_route_and_arm_names() -> None:
    assert status_name("auto_completed", locale="ja") == "自動完了"
    assert status_name("queued", locale="en") == "in the queue"
    assert status_name("a_future_status", locale="ja") == "a_future_status"
    assert route_name("audit", locale="ja") == "ブラインド監査"
    assert item_arm("ai_led", locale="ja") == "AI主導"
    assert item_arm("ai_led", locale="en") == "AI-led"
    assert item_arm(None, locale="ja") == "—"
