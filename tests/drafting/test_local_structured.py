"""The structured answer that the local model (and a chat endpoint with `structured=True`) is
held to: the schema allows only the passage numbers given, the answer becomes text with each
sentence's citations before its full stop, and a cut-off answer is an error the caller falls
back from. The endpoint is faked here; tests/drafting/test_local_llm.py runs the real model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat_fakes import ChatEndpoint, chat_drafter
from deshi.drafting.core import Evidence, cited_numbers
from deshi.drafting.extractive import NOTHING_FOUND
from deshi.drafting.faithfulness import check
from deshi.drafting.remote import STRUCTURED_SYSTEM_PROMPT, DraftingError
from deshi.drafting.structured import MalformedAnswerError, answer_schema, rendered_answer

EVIDENCE = [
    Evidence(1, 10, "cards.md", "A new card arrives within 5 working days."),
    Evidence(3, 12, "refunds.md", "A refund reaches your account within 10 days of approval."),
]


def _answer(*items: tuple[list[Any], str]) -> str:
    return json.dumps({"sentences": [{"passages": p, "text": t} for p, t in items]})


def test_the_schema_allows_only_the_numbers_given() -> None:
    item = answer_schema([3, 1, 3])["properties"]["sentences"]["items"]
    assert item["properties"]["passages"]["items"]["enum"] == [1, 3]
    assert item["properties"]["passages"]["maxItems"] == 2
    assert list(item["properties"]) == ["passages", "text"]  # the source is chosen first


def test_each_sentence_gets_its_citations_before_the_full_stop() -> None:
    answer = _answer(
        ([3], "A refund takes up to 10 days. It starts at approval."),
        ([1, 3], "Cards arrive in 5 working days"),
    )
    text = rendered_answer(answer, [1, 3])
    assert text == (
        "A refund takes up to 10 days [3]. It starts at approval [3]. "
        "Cards arrive in 5 working days [1][3]"
    )
    assert [s.cited for s in check(text, EVIDENCE).sentences] == [(3,), (3,), (1, 3)]


def test_japanese_sentences_take_the_marker_without_a_space() -> None:
    answer = _answer(([1], "新しいカードは5営業日以内に届きます。"))
    assert rendered_answer(answer, [1]) == "新しいカードは5営業日以内に届きます[1]。"


def test_numbers_outside_the_evidence_and_markers_in_the_text_are_dropped() -> None:
    answer = _answer(([1, 7, "2"], "Cards arrive in 5 days [4]."))
    assert rendered_answer(answer, [1, 3]) == "Cards arrive in 5 days [1]."


@pytest.mark.parametrize(
    "answer",
    ['{"sentences": [{"passages": [1], "text": "Cards arr', '{"other": 1}', _answer(([], " "))],
)
def test_a_cut_off_or_empty_answer_is_refused(answer: str) -> None:
    with pytest.raises(MalformedAnswerError):
        rendered_answer(answer, [1])


def test_a_structured_chat_endpoint_is_asked_for_the_schema_and_rendered() -> None:
    endpoint = ChatEndpoint(_answer(([3], "Dear <PERSON_1>, a refund takes up to 10 days.")))
    draft = chat_drafter(endpoint, structured=True).draft(
        "I am Mr. Ken Sato. How long does a refund take?", EVIDENCE
    )

    [sent] = endpoint.requests
    assert sent["messages"][0] == {"role": "system", "content": STRUCTURED_SYSTEM_PROMPT}
    assert sent["response_format"] == {"type": "json_object", "schema": answer_schema([1, 3])}
    assert "Ken Sato" not in json.dumps(sent)
    assert draft.text == "Dear Ken Sato, a refund takes up to 10 days [3]."
    assert cited_numbers(draft.text) == [3] and draft.redactions == 1


def test_a_structured_endpoint_that_cuts_its_answer_off_raises() -> None:
    with pytest.raises(DraftingError, match="not JSON of the schema"):
        chat_drafter(ChatEndpoint('{"sentences": ['), structured=True).draft(
            "How long does a refund take?", EVIDENCE
        )


def test_without_evidence_nothing_is_asked() -> None:
    endpoint = ChatEndpoint("never asked")
    draft = chat_drafter(endpoint, structured=True).draft("How long does a refund take?", [])
    assert endpoint.requests == [] and draft.text == NOTHING_FOUND
