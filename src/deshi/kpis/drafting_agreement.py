"""Two agreements of the drafting KPIs: drafts with each other (consistency) and the
faithfulness checker with the reviewers (docs/kpis.md, "Drafting").

**Consistency: the same question answered the same way.** Two drafts answer *the same
question* when their items' texts are equal once case, width, spacing and punctuation are
ignored (NFKC, case-folded, every run of non-word characters one space: the near-duplicate key
the history import counts conflicting labels with). Cheap and exact, and the same on every
embedder; a paraphrased question is not caught, so this measures only literal repeats. Each
draft of an item whose question was drafted before, for another item, in the same set of
drafts is paired with the most recent such earlier draft (n drafts of one question give at
most n - 1 pairs, found in one pass; a second draft of the same item is not a new question,
but is paired when another item asked it before). A pair is *consistent* when both drafts cite
the same set of documents (by document, not passage: a new version of a policy is still that
policy; two drafts citing nothing agree) and their texts, without `[n]` markers and normalised
like the questions, have a normalised Levenshtein similarity of at least
`SAME_ANSWER_SIMILARITY`. The rate is consistent pairs / pairs (Wilson; pairs that share a
draft are not independent, so read the interval as optimistic); no pairs: not measured.

**The checker against the reviewers.** Among judged drafts, the checker's flag (a sentence it
found unsupported) against the reviewer's verdict "not accepted as is" (edited or rejected):
precision = flagged and changed / flagged, recall = flagged and changed / changed (Wilson),
with the four counts of the 2 x 2 table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Final, Protocol

from pydantic import BaseModel, Field
from rapidfuzz.distance import Levenshtein

from deshi.engine.metrics import proportion_wilson
from deshi.kpis.models import Metric, metric

__all__ = [
    "SAME_ANSWER_SIMILARITY",
    "CheckerAgreement",
    "Consistency",
    "TextKeys",
    "answer_key",
    "checker_agreement",
    "consistency",
    "question_key",
]

SAME_ANSWER_SIMILARITY: Final = 0.8
_NON_WORD: Final = re.compile(r"[\W_]+", re.UNICODE)
# The drafts' citation markers, `[n]` (deshi.drafting.core.CITATION; a sibling layer).
_CITATION: Final = re.compile(r"\[\d{1,3}\]")


class Answered(Protocol):
    """What consistency needs of a draft (`deshi.kpis.drafting.DraftRecord` has it)."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def item_id(self) -> int | None: ...
    @property
    def question(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def cited_documents(self) -> frozenset[int]: ...


class Judged(Protocol):
    """What the checker's agreement needs of a draft."""

    @property
    def has_unsupported_claim(self) -> bool: ...
    @property
    def verdict(self) -> str | None: ...


class Consistency(BaseModel):
    """Pairs of drafts answering the same question, and how many answered it the same way."""

    pairs: int = Field(description="Drafts paired with an earlier draft of the same question.")
    same_sources: int = Field(description="Pairs citing the same set of documents.")
    same_text: int = Field(
        description=f"Pairs whose texts are at least {SAME_ANSWER_SIMILARITY:.0%} alike."
    )
    rate: Metric | None = Field(
        description="Share of pairs with the same sources and alike texts; none without pairs."
    )


class CheckerAgreement(BaseModel):
    """The checker's flag against the reviewers' verdicts, on judged drafts."""

    flagged_changed: int = Field(description="Flagged, and edited or rejected.")
    flagged_accepted: int = Field(description="Flagged, yet accepted as is.")
    unflagged_changed: int = Field(description="Not flagged, yet edited or rejected.")
    unflagged_accepted: int = Field(description="Not flagged, and accepted as is.")
    precision: Metric | None = Field(
        description="Share of the flagged drafts that reviewers edited or rejected."
    )
    recall: Metric | None = Field(
        description="Share of the edited or rejected drafts that the checker flagged."
    )


def question_key(text: str) -> str:
    """A question as compared: case, width, spacing and punctuation ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def answer_key(text: str) -> str:
    """A draft's text as compared: without its `[n]` markers, normalised like a question."""
    return question_key(_CITATION.sub(" ", text))


class TextKeys:
    """The keys of one report's texts, each text normalised once.

    Texts repeat (that is what consistency looks for) and a report measures the same drafts in
    the period, each week and each arm: normalising each text once cut the arithmetic of a
    10,000-draft report from ~1 s to ~0.2 s (docs/benchmarks.md, "Drafting KPIs at scale").
    Held for one report only, so its memory is that of texts already loaded, not a process-wide
    cache of items of up to 20,000 characters.
    """

    def __init__(self) -> None:
        self._questions: dict[str, str] = {}
        self._answers: dict[str, str] = {}

    def question(self, text: str) -> str:
        """`question_key(text)`."""
        if text not in self._questions:
            self._questions[text] = question_key(text)
        return self._questions[text]

    def answer(self, text: str) -> str:
        """`answer_key(text)`."""
        if text not in self._answers:
            self._answers[text] = answer_key(text)
        return self._answers[text]


def same_answer(first: str, second: str) -> bool:
    """Whether two answer keys are alike enough to be the same answer."""
    similarity = Levenshtein.normalized_similarity(first, second)
    return bool(similarity >= SAME_ANSWER_SIMILARITY)


def answer_pairs(
    drafts: Sequence[Answered], keys: TextKeys | None = None
) -> list[tuple[Answered, Answered]]:
    """(earlier, later) drafts of the same question for different items, oldest first: each
    draft with the most recent earlier draft of its question made for another item."""
    keys = keys or TextKeys()
    latest: dict[str, Answered] = {}  # the question's latest draft
    latest_other: dict[str, Answered] = {}  # its latest draft for another item than that one
    pairs = []
    for draft in sorted(drafts, key=lambda d: d.created_at):
        key = keys.question(draft.question)
        if draft.item_id is None or not key:
            continue
        last = latest.get(key)
        if last is not None and last.item_id != draft.item_id:
            pairs.append((last, draft))
            latest_other[key] = last
        elif key in latest_other:
            pairs.append((latest_other[key], draft))
        latest[key] = draft
    return pairs


def consistency(
    drafts: Sequence[Answered], *, confidence: float = 0.95, keys: TextKeys | None = None
) -> Consistency:
    """How often the same question got the same answer among `drafts` (`keys`: the report's,
    to normalise each text once across the sets it measures)."""
    keys = keys or TextKeys()
    sources = texts = both = 0
    pairs = answer_pairs(drafts, keys)
    for earlier, later in pairs:
        alike_sources = earlier.cited_documents == later.cited_documents
        alike_text = same_answer(keys.answer(earlier.text), keys.answer(later.text))
        sources += alike_sources
        texts += alike_text
        both += alike_sources and alike_text
    return Consistency(
        pairs=len(pairs),
        same_sources=sources,
        same_text=texts,
        rate=metric(proportion_wilson(both, len(pairs), confidence=confidence)),
    )


def checker_agreement(drafts: Sequence[Judged], *, confidence: float = 0.95) -> CheckerAgreement:
    """The 2 x 2 table of the checker's flag and the verdict on the judged `drafts`."""
    judged = [d for d in drafts if d.verdict is not None]
    flagged_changed = sum(d.has_unsupported_claim and d.verdict != "accepted" for d in judged)
    flagged_accepted = sum(d.has_unsupported_claim and d.verdict == "accepted" for d in judged)
    unflagged_changed = sum(not d.has_unsupported_claim and d.verdict != "accepted" for d in judged)
    flagged, changed = flagged_changed + flagged_accepted, flagged_changed + unflagged_changed
    return CheckerAgreement(
        flagged_changed=flagged_changed,
        flagged_accepted=flagged_accepted,
        unflagged_changed=unflagged_changed,
        unflagged_accepted=len(judged) - flagged - unflagged_changed,
        precision=metric(proportion_wilson(flagged_changed, flagged, confidence=confidence)),
        recall=metric(proportion_wilson(flagged_changed, changed, confidence=confidence)),
    )
