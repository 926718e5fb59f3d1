"""Route reasons: a code and its parameters, rendered from the i18n catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from deshi.engine import RouteReason
from deshi.items.reasons import REASON_SENTENCES, route_reason

JAPANESE_PO = Path(__file__).resolve().parents[2] / "src/deshi/locale/ja/LC_MESSAGES/messages.po"
EVERY_PARAM = {"confidence": 0.9234, "threshold": 0.95, "label": "card_arrival", "rule": "legal"}


def _japanese() -> dict[str, str]:
    with JAPANESE_PO.open("rb") as f:
        catalog = read_po(f)
    return {m.id: str(m.string) for m in catalog if isinstance(m.id, str) and m.string}


@pytest.mark.parametrize("code", list(RouteReason))
def test_every_code_has_an_english_and_a_japanese_sentence(code: RouteReason) -> None:
    msgid = REASON_SENTENCES[code]
    japanese_catalogue = _japanese()
    assert msgid in japanese_catalogue and japanese_catalogue[msgid] != msgid

    english = route_reason(code, EVERY_PARAM, locale="en")
    japanese = route_reason(code, EVERY_PARAM, locale="ja")
    assert english.endswith(".") and "%(" not in english and english != japanese
    assert japanese.endswith("。") and "%(" not in japanese


def test_the_english_sentences_read_as_the_engine_wrote_them() -> None:
    """Stored decisions and API clients saw these words before reasons became codes."""
    said = {"confidence": 0.9234, "threshold": 0.95}

    assert route_reason(RouteReason.AUTO, said) == (
        "Confidence 92.3% is at or above the certified threshold 95.0%."
    )
    assert route_reason(RouteReason.RULE, {"rule": "legal"}) == (
        "An always-human rule matched: legal."
    )


def test_parameters_are_formatted_for_the_language() -> None:
    said = {"confidence": 0.5, "threshold": None}

    assert route_reason(RouteReason.BELOW_THRESHOLD, said, locale="en") == (
        "Confidence 50.0% is below the certified threshold —."
    )
    assert route_reason(RouteReason.RULE, {"rule": "契約解除"}, locale="ja") == (
        "常に人が判断するルールに該当しました：契約解除。"
    )


def test_a_missing_parameter_shows_a_dash() -> None:
    assert route_reason(RouteReason.RULE, {}) == "An always-human rule matched: —."


def test_a_decision_without_a_code_keeps_its_stored_sentence() -> None:
    assert route_reason(None, {}, locale="ja", stored="Stored sentence.") == "Stored sentence."
