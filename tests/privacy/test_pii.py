"""Personal data in English and Japanese: found by format and check digit, replaced by
placeholders, restored in the answer; ordinary numbers, dates and words are left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deshi.privacy import Kind, Redactor, find_pii, redact, restore
from deshi.privacy.pii import my_number_valid


def _kinds(text: str) -> dict[str, Kind]:
    return {f.value: f.kind for f in find_pii(text)}


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("Reply to jane.doe+bank@example.co.uk please", "jane.doe+bank@example.co.uk", Kind.EMAIL),
        ("メールはtaro@example.co.jpです", "taro@example.co.jp", Kind.EMAIL),
        ("Call +1 (555) 123-4567 tonight", "+1 (555) 123-4567", Kind.PHONE),
        ("call 415-555-0134", "415-555-0134", Kind.PHONE),
        ("電話は03-1234-5678まで", "03-1234-5678", Kind.PHONE),
        ("携帯０９０－１２３４－５６７８です", "０９０－１２３４－５６７８", Kind.PHONE),
        ("携帯09012345678です", "09012345678", Kind.PHONE),
        ("card 4111 1111 1111 1111 was charged", "4111 1111 1111 1111", Kind.CARD),
        ("カード番号4111-1111-1111-1111で", "4111-1111-1111-1111", Kind.CARD),
        ("マイナンバーは123456789018です", "123456789018", Kind.MY_NUMBER),
        ("送付先は〒100-0001です", "〒100-0001", Kind.POSTAL_CODE),
        ("London SW1A 1AA", "SW1A 1AA", Kind.POSTAL_CODE),
        ("San Francisco, CA 94105", "94105", Kind.POSTAL_CODE),
        ("IBAN GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32", Kind.IBAN),
        ("my account number is 12345678", "12345678", Kind.ACCOUNT),
        ("口座番号：1234567", "1234567", Kind.ACCOUNT),
        ("Date of birth: 12/04/1985", "12/04/1985", Kind.BIRTH_DATE),
        ("I was born on March 3, 1990.", "March 3, 1990", Kind.BIRTH_DATE),
        ("生年月日は昭和60年4月12日です", "昭和60年4月12日", Kind.BIRTH_DATE),
        ("I live at 221 Baker Street now", "221 Baker Street", Kind.ADDRESS),
        ("住所は東京都千代田区千代田1-1です", "東京都千代田区千代田1-1", Kind.ADDRESS),
        ("Please ask Dr. Maria Garcia", "Maria Garcia", Kind.PERSON),
        ("Hello, my name is John Smith", "John Smith", Kind.PERSON),
        ("Where is my card? — Ken Sato", "Ken Sato", Kind.PERSON),
        ("Kind regards,\nAnna Berg", "Anna Berg", Kind.PERSON),
        ("山田太郎様からのお問い合わせ", "山田太郎", Kind.PERSON),
        ("高橋さんに伝えます", "高橋", Kind.PERSON),
    ],
)
def test_each_kind_is_found_with_its_exact_span(text: str, value: str, kind: Kind) -> None:
    assert _kinds(text).get(value) is kind, find_pii(text)


@pytest.mark.parametrize(
    "text",
    [
        "My card was charged twice on 2023-05-12 for 45.99 USD, transaction 123456789.",
        "I am still waiting for my card.",  # "I am" before lower-case words is no name
        "Why is my top-up of 1,000,000 JPY still pending after 3 days?",
        "card ending 1234 declined at 12:45",
        "4111 1111 1111 1112 is not a card number",  # Luhn fails
        "123456789012 is not a My Number",  # check digit fails
        "ギアが抜ける。ミラーの視界が悪い。教習車仕様の車、お客様相談室、同様の模様。",
        "The Bank of England raised rates.",
    ],
)
def test_ordinary_text_has_no_personal_data(text: str) -> None:
    assert find_pii(text) == []


def test_my_number_check_digit() -> None:
    assert my_number_valid("123456789018")
    assert not my_number_valid("123456789017")
    assert not my_number_valid("12345678901")  # 11 digits
    assert not my_number_valid("12345678901a")


def test_redaction_uses_one_placeholder_per_value_and_restores_the_answer() -> None:
    text = "Email ann@example.com or ann@example.com; Bob is bob@example.com. 電話03-1234-5678"
    redacted = redact(text)
    assert redacted.text == ("Email <EMAIL_1> or <EMAIL_1>; Bob is <EMAIL_2>. 電話<PHONE_1>")
    assert redacted.count == 4
    assert "ann@example.com" not in redacted.text
    answer = "We wrote to <EMAIL_2> and will call <PHONE_1>; <EMAIL_9> is unknown."
    assert restore(answer, redacted) == (
        "We wrote to bob@example.com and will call 03-1234-5678; <EMAIL_9> is unknown."
    )


def test_redaction_can_be_limited_to_some_kinds() -> None:
    redacted = redact("Mr. John Smith, john@example.com", kinds=[Kind.EMAIL])
    assert redacted.text == "Mr. John Smith, <EMAIL_1>"


def test_a_placeholder_never_collides_with_text_already_there() -> None:
    text = "literal <EMAIL_1> and real x@example.com"
    redacted = redact(text)
    assert redacted.text == "literal <EMAIL_1> and real <EMAIL_2>"
    assert restore(redacted.text, redacted) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_restoring_the_redacted_text_gives_the_original_back(text: str) -> None:
    redacted = redact(text)
    assert restore(redacted.text, redacted) == text
    for finding in redacted.findings:
        assert text[finding.start : finding.end] == finding.value


def test_one_redactor_keeps_placeholders_across_texts() -> None:
    redactor = Redactor()
    message = redactor.redact("I am Mr. Ken Sato, ken@example.com")
    document = redactor.redact("Escalate to ken@example.com or ann@example.com")
    assert message == "I am Mr. <PERSON_1>, <EMAIL_1>"
    assert document == "Escalate to <EMAIL_1> or <EMAIL_2>"
    assert redactor.count == 4
    assert redactor.restore("Write to <EMAIL_2> for <PERSON_1>") == (
        "Write to ann@example.com for Ken Sato"
    )
