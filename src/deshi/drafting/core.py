"""What every drafter shares: the evidence it is given, the draft it returns, citations, and
the guardrail against instructions hidden in the data.

A drafter may also be given the process owner's `guidance` for the item's label
(`deshi.processes.label_guidance`): instructions, not data. The drafters that write with a
language model put it in their instructions and mark the draft `guided`; the extractive drafter
only quotes passages, so it cannot follow free text and ignores it.

Instead of a reply, a drafter may be asked to fill one of the process's drafting fields
(`deshi.processes.draft_fields`): `field_instruction` is the owner's instruction for the value
("How many days the customer has to ask for a refund"), the question is still the item's text,
and the draft is the value alone, citing its passages like a reply.

A draft cites the passages it uses as `[1]`, `[2]`, … — the numbers of the evidence list it was
given — so each sentence can be checked against exactly the passages it claims
(`deshi.drafting.faithfulness`) and the reviewer can open each source at its place.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from deshi.drafting.notes import DraftNote

__all__ = [
    "CITATION",
    "Draft",
    "Drafter",
    "Evidence",
    "Example",
    "cited_numbers",
    "injection_markers",
    "strip_citations",
]

CITATION: Final = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True, slots=True)
class Evidence:
    """A passage given to a drafter: `number` is how the draft cites it (`[number]`)."""

    number: int
    passage_id: int
    document: str
    text: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class Example:
    """A past question and the answer a reviewer accepted (or wrote): an example, not a fact."""

    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class Draft:
    """A drafted reply: its text with `[n]` citations, which drafter wrote it, the guardrails
    that fired while writing it (e.g. `injection_detected`, `redacted:3`), and whether the
    owner's guidance was in its instructions (`guided`)."""

    text: str
    drafter: str
    guardrails: tuple[str, ...] = ()
    redactions: int = 0
    model: str = ""
    endpoint: str = ""
    notes: tuple[DraftNote, ...] = field(default=())
    guided: bool = False


class Drafter(Protocol):
    """Writes a reply to `question` from `evidence` (and past `examples`), citing by number,
    following the owner's `guidance` for the item's label when it can ("" for none); with a
    `field_instruction`, the value that instruction asks for instead of a reply."""

    @property
    def name(self) -> str:
        """How drafts name their drafter (`extractive`, `chat`)."""
        ...

    def draft(
        self,
        question: str,
        evidence: Sequence[Evidence],
        examples: Sequence[Example] = (),
        guidance: str = "",
        *,
        field_instruction: str = "",
    ) -> Draft:
        """The draft; never raises for an empty evidence list (it says it found nothing)."""
        ...


def cited_numbers(text: str) -> list[int]:
    """The evidence numbers a text cites, in order of first citation."""
    return list(dict.fromkeys(int(n) for n in CITATION.findall(text)))


def strip_citations(text: str) -> str:
    """The text without its `[n]` markers."""
    return re.sub(r"\s*\[\d{1,3}\]", "", text).strip()


# Phrases that try to turn data into instructions, in English and Japanese. Detection is a
# second line: the first is the prompt's structure, which hands every document and item text to
# the model as quoted data, never as instructions. Matched on the NFKC form, so full-width
# letters (ｉｇｎｏｒｅ) and half-width katakana match too; the English ones in any case.
_INJECTION: Final = re.compile(
    r"(?i:(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
    r"(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions?|prompts?|rules?|messages?))"
    r"|(?i:you\s+are\s+now\s+(?:a|an|the|in)\b)"
    r"|(?i:(?:reveal|print|show|repeat)\s+(?:your|the)\s+(?:system\s+)?(?:prompt|instructions))"
    r"|(?i:new\s+instructions?\s*:)"
    r"|(?i:\bsystem\s*prompt\b)"
    r"|(?:以前|前|上記|これまで|今まで)の(?:指示|命令|プロンプト|ルール)を(?:無視|忘れ)"
    r"|(?:指示|命令)を無視"
    r"|システムプロンプト"
    r"|あなたは(?:今から|これから)"
    r"|新しい(?:指示|命令)[:：]"
)


def injection_markers(texts: Sequence[str]) -> list[str]:
    """The instruction-like phrases found in `texts` (empty when there are none)."""
    return [
        m.group(0)
        for text in texts
        for m in _INJECTION.finditer(unicodedata.normalize("NFKC", text))
    ]
