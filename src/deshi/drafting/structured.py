"""Answers whose citations always parse: the JSON schema a drafting model is held to, and
how its answer becomes a draft's text.

A small model does not reliably write `[n]` after its sentences. Asked for JSON under this
schema (llama.cpp turns a schema into a grammar the sampler cannot leave; its `llama-server`
and llama-cpp-python's OpenAI-compatible server take it as `response_format: {"type":
"json_object", "schema": …}`), it answers with a list of sentences, each with the numbers of
the passages it uses, drawn from the numbers it was given, and the passages come before the
text: the model picks its source first and then writes from it. Every citation therefore
names a passage that exists; whether a sentence says what its passage says is the
faithfulness check's job.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any, Final

from deshi.drafting.core import strip_citations
from deshi.engine.japanese import contains_japanese, sentences

__all__ = ["STRUCTURED_INSTRUCTIONS", "MalformedAnswerError", "answer_schema", "rendered_answer"]

STRUCTURED_INSTRUCTIONS: Final = (
    "Reply with one JSON object: `sentences`, the reply's sentences in order, each with "
    "`passages`, the numbers of the passages it uses, then its `text` (without [n] markers)."
)
MAX_SENTENCES: Final = 4
MAX_SENTENCE_CHARS: Final = 240
# One line of plain text (no quotes, escapes or line breaks: a small model otherwise drifts into
# numbered lists); a regex in the subset llama.cpp's schema-to-grammar converter reads.
_ONE_LINE: Final = rf'^[^"\\\n\r]{{1,{MAX_SENTENCE_CHARS}}}$'
_STOP: Final = ".!?。．！？"


class MalformedAnswerError(ValueError):
    """The answer is not JSON of the schema (e.g. cut off by the token limit) or says nothing."""


def answer_schema(numbers: Collection[int]) -> dict[str, Any]:
    """The JSON schema of an answer whose citations can only be the given passage numbers."""
    allowed = sorted(set(numbers))
    sentence = {
        "type": "object",
        "properties": {
            "passages": {
                "type": "array",
                "items": {"type": "integer", "enum": allowed},
                "maxItems": len(allowed),
            },
            "text": {"type": "string", "pattern": _ONE_LINE},
        },
        "required": ["passages", "text"],
    }
    return {
        "type": "object",
        "properties": {
            "sentences": {
                "type": "array",
                "items": sentence,
                "minItems": 1,
                "maxItems": MAX_SENTENCES,
            }
        },
        "required": ["sentences"],
    }


def rendered_answer(answer: str, numbers: Collection[int]) -> str:
    """The JSON answer as a draft's text: each sentence with its citations before its full
    stop. An item holding several sentences gives each of them its citations, so the
    faithfulness check holds each to the passages the model named."""
    allowed = set(numbers)
    try:
        items = json.loads(answer)["sentences"]
        parts = [
            _with_citations(sentence, _valid(item["passages"], allowed))
            for item in items
            for sentence in sentences(" ".join(strip_citations(str(item["text"])).split()))
        ]
    except (ValueError, KeyError, TypeError):
        raise MalformedAnswerError("the answer is not JSON of the schema (cut off?)") from None
    text = " ".join(part for part in parts if part)
    if not text:
        raise MalformedAnswerError("the answer is empty")
    return text


def _valid(cited: Any, allowed: set[int]) -> list[int]:
    if not isinstance(cited, list):
        raise TypeError("passages is not a list")
    return sorted({n for n in cited if isinstance(n, int) and n in allowed})


def _with_citations(sentence: str, cited: Sequence[int]) -> str:
    """`"Cards arrive in 5 days." + [1, 2]` → `"Cards arrive in 5 days [1][2]."`."""
    sentence = sentence.strip()
    if not sentence or not cited:
        return sentence
    markers = "".join(f"[{n}]" for n in cited)
    body = sentence.rstrip(_STOP)
    space = "" if contains_japanese(body[-1:]) else " "
    return f"{body}{space}{markers}{sentence[len(body) :]}"
