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

**Paraphrase consistency: the same question, however worded.** A second, separate figure that
catches what the exact one cannot: each draft is paired with the most recent earlier draft of
*another item* whose message embedding (multilingual-e5-small, stored with each draft) has a
cosine of at least `PARAPHRASE_SIMILARITY` with its own, and the pair is consistent by the same
rule. Exact repeats are included (their cosine is 1): the figure answers "is a question answered
the same way however it is worded", and `exact_repeats` says how many of its pairs are literal
repeats. The threshold was measured, not guessed: on 2,000 BANKING77 texts, of the pairs of
texts at or above 0.97, 97% carry the same intent label (a proxy for "the same question"; e5's
cosines are high for any two texts of a domain: of the pairs at or above 0.90 only 24% share an
intent; docs/benchmarks.md, "Paraphrase threshold"). Drafts without a vector (no item, or made
before vectors were stored) are left out, as are vectors of another width than most (another
embedder's).
Pairing is vectorised in blocks (numpy): an exact pre-filter on 48 directions finds the few
pairs that can reach the threshold, and only those are compared in full (`_latest_partners`),
once per report for all its sets (`ParaphrasePartners`).

**The checker against the reviewers.** Among judged drafts, the checker's flag (a sentence it
found unsupported) against the reviewer's verdict "not accepted as is" (edited or rejected):
precision = flagged and changed / flagged, recall = flagged and changed / changed (Wilson),
with the four counts of the 2 x 2 table.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Final, Protocol, TypeVar, cast

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field
from rapidfuzz.distance import Levenshtein

from deshi.engine.metrics import proportion_wilson
from deshi.kpis.models import Metric, metric

__all__ = [
    "PARAPHRASE_SIMILARITY",
    "SAME_ANSWER_SIMILARITY",
    "CheckerAgreement",
    "Consistency",
    "ParaphraseConsistency",
    "ParaphrasePartners",
    "TextKeys",
    "answer_key",
    "checker_agreement",
    "consistency",
    "paraphrase_consistency",
    "paraphrase_pairs",
    "question_key",
]

SAME_ANSWER_SIMILARITY: Final = 0.8
# Cosine of two messages' embeddings at or above which they ask the same question (module doc).
PARAPHRASE_SIMILARITY: Final = 0.97
_ROWS_PER_BLOCK: Final = 512  # drafts compared at once: 512 x 10,000 floats is 20 MB
_FILTER_WIDTH: Final = 48  # directions of the exact pre-filter (`_latest_partners`)
_BASIS_SAMPLE: Final = 2_000  # messages its directions are found from
_ROUNDING: Final = 1e-4  # float32 slack, so the filter never drops a pair at the threshold
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


class Embedded(Answered, Protocol):
    """What paraphrase consistency needs of a draft: its message's stored embedding and arm."""

    @property
    def vector(self) -> bytes | None: ...
    @property
    def arm(self) -> str | None: ...


D = TypeVar("D", bound=Embedded)


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


class ParaphraseConsistency(Consistency):
    """Pairs of drafts whose messages' embeddings are nearly the same, and how many of them
    were answered the same way (exact repeats included)."""

    threshold: float = Field(
        description="Cosine of the messages' embeddings at or above which drafts are paired."
    )
    pairs: int = Field(
        description="Drafts paired with the latest earlier draft of another item whose "
        "message is at least `threshold` alike."
    )
    exact_repeats: int = Field(
        description="Pairs whose two questions are also the same text once normalised."
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


def _agreement(pairs: Sequence[tuple[Answered, Answered]], keys: TextKeys) -> tuple[int, int, int]:
    """(pairs citing the same documents, pairs with alike texts, pairs with both)."""
    sources = texts = both = 0
    for earlier, later in pairs:
        alike_sources = earlier.cited_documents == later.cited_documents
        alike_text = same_answer(keys.answer(earlier.text), keys.answer(later.text))
        sources += alike_sources
        texts += alike_text
        both += alike_sources and alike_text
    return sources, texts, both


def consistency(
    drafts: Sequence[Answered], *, confidence: float = 0.95, keys: TextKeys | None = None
) -> Consistency:
    """How often the same question got the same answer among `drafts` (`keys`: the report's,
    to normalise each text once across the sets it measures)."""
    keys = keys or TextKeys()
    pairs = answer_pairs(drafts, keys)
    sources, texts, both = _agreement(pairs, keys)
    return Consistency(
        pairs=len(pairs),
        same_sources=sources,
        same_text=texts,
        rate=metric(proportion_wilson(both, len(pairs), confidence=confidence)),
    )


def _embedded(drafts: Sequence[D]) -> list[D]:
    """The drafts that can be paired, oldest first: of an item, with a vector of the width
    most of them have (a vector of another width is another embedder's)."""
    usable = [d for d in drafts if d.item_id is not None and d.vector]
    widths = Counter(len(d.vector or b"") for d in usable)
    if not widths:
        return []
    width = widths.most_common(1)[0][0]
    return sorted((d for d in usable if len(d.vector or b"") == width), key=lambda d: d.created_at)


def _filter_basis(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """The `_FILTER_WIDTH` directions along which the messages differ most (principal
    components of an evenly spaced sample): any orthonormal directions keep the filter exact,
    these make it sharp."""
    step = max(1, len(vectors) // _BASIS_SAMPLE)
    sample = vectors[::step]
    centred = sample - sample.mean(axis=0)
    _, directions = np.linalg.eigh(centred.T @ centred)  # ascending variance
    return np.ascontiguousarray(directions[:, ::-1][:, :_FILTER_WIDTH])


def _latest_partners(
    vectors: NDArray[np.float32],
    items: NDArray[np.int64],
    groups: NDArray[np.int64],
    threshold: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """For each unit row (oldest first), the latest earlier row of another item whose cosine
    with it is at least `threshold`, and the latest such row of its own group; -1 for none.

    Unit rows u, v have a cosine of at least t exactly when |u - v|^2 <= 2 - 2t, and projecting
    on a few orthonormal directions can only shorten u - v: pairs farther apart than that in the
    projection cannot qualify, and only the few left are compared in full. Exact, whatever the
    directions; on 2,000 BANKING77 texts 48 directions leave 0.2% of the pairs at t = 0.97."""
    partners = np.full(len(vectors), -1, dtype=np.int64)
    in_group = partners.copy()
    projected = (vectors - vectors.mean(axis=0)) @ _filter_basis(vectors)
    half_norms = (projected * projected).sum(axis=1) / 2
    reach = (2 - 2 * threshold) / 2 + _ROUNDING  # half the squared distance allowed
    # (|p_i|^2 + |p_j|^2)/2 - p_i.p_j <= reach  <=>  p_i.p_j - |p_j|^2/2 >= |p_i|^2/2 - reach:
    # the left side is one product of [p_i, 1] and [p_j, -|p_j|^2/2]
    left = np.hstack([projected, np.ones((len(vectors), 1), dtype=np.float32)])
    right = np.hstack([projected, -half_norms[:, None]]).T.copy()
    bounds = (half_norms - reach)[:, None]
    for start in range(0, len(vectors), _ROWS_PER_BLOCK):
        stop = min(start + _ROWS_PER_BLOCK, len(vectors))
        closeness = left[start:stop] @ right[:, :stop]
        rows, cols = np.nonzero(closeness >= bounds[start:stop])
        rows += start
        keep = (cols < rows) & (items[cols] != items[rows])  # earlier rows of another item
        rows, cols = rows[keep], cols[keep]
        alike = np.einsum("ij,ij->i", vectors[rows], vectors[cols]) >= threshold
        rows, cols = rows[alike], cols[alike]
        np.maximum.at(partners, rows, cols)  # the latest of each row's
        same = groups[rows] == groups[cols]
        np.maximum.at(in_group, rows[same], cols[same])
    return partners, in_group


class ParaphrasePartners:
    """Each draft's paraphrase partner among a report's drafts, found once for all its sets.

    A report measures the period, each ISO week and each arm. The most recent earlier partner
    within a stretch of time is the period's partner when that partner falls in the stretch (a
    partner before it is older than any draft in it), so one pass over every draft gives the
    weeks' pairs too, and recording the latest partner of the same arm gives the arms'. Finding
    them per set instead cost ~4 times as much at 10,000 drafts (sixteen sets, each with its own
    directions: 1.9-2.4 s against 0.45-0.55 s on a busy 2-core machine)."""

    def __init__(
        self, drafts: Sequence[Embedded], *, threshold: float = PARAPHRASE_SIMILARITY
    ) -> None:
        self.threshold = threshold
        usable = _embedded(drafts)
        self._position = {id(d): n for n, d in enumerate(usable)}
        self._partner: dict[int, Embedded] = {}
        self._partner_in_arm: dict[int, Embedded] = {}
        if not usable:
            return
        stored = b"".join(d.vector or b"" for d in usable)  # little-endian float32, as stored
        vectors = np.frombuffer(stored, dtype="<f4").reshape(len(usable), -1).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)  # a cosine, whatever was stored
        items = np.fromiter((d.item_id or 0 for d in usable), dtype=np.int64, count=len(usable))
        arm_ids: dict[str | None, int] = {}
        arms = np.fromiter(
            (arm_ids.setdefault(d.arm, len(arm_ids)) for d in usable),
            dtype=np.int64,
            count=len(usable),
        )
        partners, in_arm = _latest_partners(vectors, items, arms, threshold)
        for n, (p, q) in enumerate(zip(partners.tolist(), in_arm.tolist(), strict=True)):
            if p >= 0:
                self._partner[id(usable[n])] = usable[p]
            if q >= 0:
                self._partner_in_arm[id(usable[n])] = usable[q]

    def pairs(self, drafts: Sequence[D], *, same_arm: bool = False) -> list[tuple[D, D]]:
        """(earlier, later) pairs within `drafts`, oldest first: a stretch of time of the
        report's drafts, or (`same_arm`) of one arm's."""
        partner = self._partner_in_arm if same_arm else self._partner
        members = {id(d) for d in drafts}
        ordered = sorted(
            (d for d in drafts if id(d) in self._position), key=lambda d: self._position[id(d)]
        )
        found = []
        for draft in ordered:
            earlier = partner.get(id(draft))
            if earlier is not None and id(earlier) in members:
                found.append((cast(D, earlier), draft))
        return found


def paraphrase_pairs(
    drafts: Sequence[D], *, threshold: float = PARAPHRASE_SIMILARITY
) -> list[tuple[D, D]]:
    """(earlier, later) drafts of nearly the same message for different items, oldest first:
    each draft with the most recent earlier draft of another item whose message's embedding
    has a cosine of at least `threshold` with its own."""
    return ParaphrasePartners(drafts, threshold=threshold).pairs(drafts)


def paraphrase_consistency(
    drafts: Sequence[Embedded],
    *,
    confidence: float = 0.95,
    keys: TextKeys | None = None,
    partners: ParaphrasePartners | None = None,
    same_arm: bool = False,
) -> ParaphraseConsistency:
    """How often nearly the same question (by its message's embedding) got the same answer
    among `drafts` (`partners`: the report's, found once for its sets; `same_arm`: `drafts`
    are of one arm)."""
    keys = keys or TextKeys()
    partners = partners or ParaphrasePartners(drafts)
    threshold = partners.threshold
    pairs = partners.pairs(drafts, same_arm=same_arm)
    sources, texts, both = _agreement(pairs, keys)
    repeats = sum(keys.question(a.question) == keys.question(b.question) for a, b in pairs)
    return ParaphraseConsistency(
        threshold=threshold,
        pairs=len(pairs),
        exact_repeats=repeats,
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
