"""The default drafter: it answers with the passages' own sentences that bear most on the
question, each followed by its citation. It invents nothing, so it is faithful by
construction; it is fast and needs no model beyond the tokenizer. It cannot rephrase, combine
facts or write a greeting: a reviewer edits its draft, or a process configures a language model.
For the same reason it cannot follow a label's drafting guidance (free text): it ignores it.

Asked to fill a field (`field_instruction`), it answers with the single sentence that bears
most on the instruction and the item's text, the instruction's words counting twice, with its
citation. It cannot shorten that sentence to the value itself ("30 days"): the reviewer does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from deshi.drafting.core import Draft, Evidence, Example
from deshi.drafting.faithfulness import content_tokens
from deshi.engine.japanese import contains_japanese, sentences

__all__ = ["NOTHING_FOUND", "NOTHING_FOUND_JA", "NOTHING_FOUND_TEXTS", "ExtractiveDrafter"]

_RANK_DISCOUNT: Final = 0.3
NOTHING_FOUND: Final = "No passage of the knowledge base answers this; please answer it yourself."
# The same, to a Japanese message: the reviewer reads it where the reply would be.
NOTHING_FOUND_JA: Final = (
    "ナレッジベースにこの問い合わせに答える記載がありません。担当者が回答してください。"
)
NOTHING_FOUND_TEXTS: Final = frozenset({NOTHING_FOUND, NOTHING_FOUND_JA})


@dataclass(frozen=True, slots=True)
class ExtractiveDrafter:
    """Up to `max_sentences` sentences from the evidence, most relevant first."""

    max_sentences: int = 3
    name: str = "extractive"

    def draft(
        self,
        question: str,
        evidence: Sequence[Evidence],
        examples: Sequence[Example] = (),
        guidance: str = "",  # free text it cannot follow: it only quotes passages
        *,
        field_instruction: str = "",
    ) -> Draft:
        asked = set(content_tokens(field_instruction))
        wanted = set(content_tokens(question)) | asked
        candidates = [
            (rank, position, sentence, set(content_tokens(sentence)), item.number)
            for rank, item in enumerate(evidence)
            for position, sentence in enumerate(sentences(item.text))
        ]
        weight = _rarity(wanted, [words for *_, words, _ in candidates])
        scored: list[tuple[float, int, int, str]] = []
        for rank, position, sentence, words, number in candidates:
            # Shared rare words, discounted down the retrieval ranking (the search already
            # weighed the whole passage against the message).
            # A field's instruction says what is wanted more exactly than the message.
            shared = sum(weight[w] * (2 if w in asked else 1) for w in wanted & words)
            relevance = shared / (1 + _RANK_DISCOUNT * rank)
            if relevance > 0:
                # Relevance first; then the better-ranked passage; then reading order.
                scored.append((-relevance, rank, position, _cite(sentence, number)))
        if not scored:
            return Draft(
                NOTHING_FOUND_JA if contains_japanese(question) else NOTHING_FOUND, self.name
            )
        best = sorted(scored)[: 1 if field_instruction else self.max_sentences]
        ordered = sorted(best, key=lambda s: (s[1], s[2]))  # as the sources tell it
        return Draft(" ".join(text for *_, text in ordered), self.name)


def _rarity(wanted: set[str], sentence_words: Sequence[set[str]]) -> dict[str, float]:
    """How much a shared word says, as inverse sentence frequency among the candidates: a word
    every sentence has ("card" in a card policy) counts little, a rare one ("declined") much."""
    total = len(sentence_words)
    return {
        word: math.log(1 + total / (1 + sum(word in words for words in sentence_words)))
        for word in wanted
    }


_STOP: Final = re.compile(r"[。．！？!?.]+$")


def _cite(sentence: str, number: int) -> str:
    """The sentence with its citation before the closing stop: "… days [1]." / "…ます[1]。"."""
    stop = _STOP.search(sentence)
    if stop is None:
        return f"{sentence} [{number}]"
    body = sentence[: stop.start()]
    space = "" if contains_japanese(body[-1:]) else " "
    return f"{body}{space}[{number}]{stop.group(0)}"
