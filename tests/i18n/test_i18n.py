"""Choosing a language and formatting numbers, shares and dates for it (deshi.i18n)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from deshi.errors import ValidationFailed
from deshi.i18n import (
    format_date,
    format_datetime,
    format_number,
    format_percent,
    negotiate,
    parse_locale,
    translations,
)


@pytest.mark.parametrize(
    ("chosen", "user_locale", "accept_language", "expected"),
    [
        ("ja", "en", "en-US", "ja"),  # the switch link wins
        (None, "ja_JP", "en-US", "ja"),  # then the user's setting
        ("fr", None, "ja,en;q=0.8", "ja"),  # unsupported choices fall through to the browser
        (None, None, "fr-FR, ja-JP;q=0.7", "ja"),
        (None, None, "fr-FR", "en"),
        (None, None, "", "en"),
    ],
)
def test_negotiate_takes_the_first_supported_language(
    chosen: str | None, user_locale: str | None, accept_language: str, expected: str
) -> None:
    found = negotiate(chosen=chosen, user_locale=user_locale, accept_language=accept_language)
    assert found == expected


@pytest.mark.parametrize(("tag", "expected"), [("ja", "ja"), ("ja-JP", "ja"), ("EN", "en")])
def test_parse_locale_names_the_language_of_a_tag(tag: str, expected: str) -> None:
    assert parse_locale(tag) == expected


@pytest.mark.parametrize("tag", ["fr", "", "jp", "english"])
def test_parse_locale_refuses_an_unsupported_language(tag: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_locale(tag)
    assert raised.value.field == "lang"


def test_dates_follow_the_locale() -> None:
    assert format_date(date(2026, 11, 16), locale="en") == "Nov 16, 2026"
    assert format_date(date(2026, 11, 16), locale="ja") == "2026/11/16"
    moment = datetime(2026, 11, 22, 23, 1, 5, tzinfo=UTC)
    assert format_datetime(moment, locale="ja") == "2026/11/22 23:01:05"
    assert format_datetime(moment, locale="en") == "Nov 22, 2026, 11:01:05\u202fPM"


def test_numbers_and_shares_have_fixed_or_trimmed_decimals_and_a_dash_when_missing() -> None:
    assert format_number(-12345.678, locale="ja", digits=1) == "-12,345.7"
    assert format_number(1500.0, locale="en", digits=2, trim=True) == "1,500"
    assert format_percent(0.125, locale="ja") == "12.5%"
    assert format_percent(0.95, locale="en", digits=2, trim=True) == "95%"
    assert format_percent(0.0125, locale="en", digits=2) == "1.25%"
    assert format_number(None, locale="en") == format_percent(None, locale="ja") == "—"


def test_english_is_the_msgids_and_japanese_comes_from_the_catalog() -> None:
    assert translations("en").gettext("Hours saved") == "Hours saved"
    assert translations("ja").gettext("Hours saved") == "削減時間"
