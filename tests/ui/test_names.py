"""Stored codes as words of the page's language (deshi.web.ui.names)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deshi.engine.types import ReasonParams, Route, RouteReason
from deshi.items.models import DecisionPublic
from deshi.web.ui.names import item_arm, route_name, route_reason, status_name


def _decision(
    code: RouteReason | None, params: ReasonParams, *, reason: str = ""
) -> DecisionPublic:
    return DecisionPublic(
        id=1,
        model_version_id=None,
        model_version=1,
        threshold=0.95,
        label="card_arrival",
        confidence=0.9234,
        alternatives=[],
        evidence=[],
        route=Route.REVIEW,
        reason=reason,
        reason_code=code,
        reason_params=dict(params),
        created_at=datetime(2026, 11, 22, tzinfo=UTC),
    )


@pytest.mark.parametrize("code", list(RouteReason))
def test_every_reason_is_shown_in_the_pages_language(code: RouteReason) -> None:
    decision = _decision(code, {"confidence": 0.9234, "threshold": 0.95, "rule": "legal"})

    english = route_reason(decision, locale="en")
    japanese = route_reason(decision, locale="ja")
    assert english.endswith(".") and japanese.endswith("。") and "%(" not in english + japanese


def test_the_rule_name_is_kept_in_any_language() -> None:
    decision = _decision(RouteReason.RULE, {"rule": "契約解除"})

    assert route_reason(decision, locale="ja") == "常に人が判断するルールに該当しました：契約解除。"


def test_a_decision_stored_before_reason_codes_shows_its_sentence() -> None:
    decision = _decision(None, {}, reason="Stored sentence.")

    assert route_reason(decision, locale="ja") == "Stored sentence."


def test_status_route_and_arm_names() -> None:
    assert status_name("auto_completed", locale="ja") == "自動完了"
    assert status_name("queued", locale="en") == "in the queue"
    assert status_name("a_future_status", locale="ja") == "a_future_status"
    assert route_name("audit", locale="ja") == "ブラインド監査"
    assert item_arm("ai_led", locale="ja") == "AI主導"
    assert item_arm("ai_led", locale="en") == "AI-led"
    assert item_arm(None, locale="ja") == "—"
