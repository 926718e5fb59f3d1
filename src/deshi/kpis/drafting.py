"""Drafting KPIs: how faithful the drafts are, how often they hallucinate, how often reviewers
take them, how far they edit them, and how often a guardrail fires (docs/kpis.md).

Pure arithmetic over `DraftRecord`s (one per stored draft), with the interval helpers of
`deshi.engine.metrics` at the process's confidence:

- faithfulness: supported sentences / all sentences of the drafts (Wilson; sentences of one
  draft are not independent, so read the interval as a lower bound on the uncertainty);
- unsupported claims: drafts in which the checker found an unsupported sentence (Wilson);
- reviewer changes: judged drafts the reviewer rejected or edited (Wilson), the reviewers'
  side of the hallucination rate;
- acceptance: judged drafts accepted as they were (Wilson);
- edit distance: median normalised Levenshtein distance of accepted and edited drafts
  (distribution-free interval between order statistics);
- guardrails: drafts on which any fired (Wilson), and the count of each kind;
- consistency (the same question answered the same way: the same text, and separately the
  same message by its embedding, paraphrases included) and the checker's agreement with the
  reviewers' verdicts: `deshi.kpis.drafting_agreement`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from pydantic import BaseModel, Field

from deshi.engine.metrics import median_order_statistic, proportion_wilson
from deshi.kpis.drafting_agreement import (
    CheckerAgreement,
    Consistency,
    ParaphraseConsistency,
    ParaphrasePartners,
    TextKeys,
    checker_agreement,
    consistency,
    paraphrase_consistency,
)
from deshi.kpis.models import Metric, metric
from deshi.kpis.records import Arm, iso_week

__all__ = [
    "DraftRecord",
    "DraftingKpis",
    "DraftingReport",
    "DraftingWeek",
    "GuardrailCounts",
    "drafting_kpis",
    "drafting_report",
]


@dataclass(frozen=True, slots=True)
class DraftRecord:
    """What the KPIs need of one stored draft; `verdict` None: not judged yet."""

    created_at: datetime
    sentences: int
    supported_sentences: int
    has_unsupported_claim: bool
    verdict: str | None = None  # accepted, edited, rejected
    edit_distance: float | None = None
    redactions: int = 0
    refusals: int = 0
    injection_blocks: int = 0
    model_failures: int = 0
    arm: str | None = None
    item_id: int | None = None
    question: str = ""  # the item's text
    text: str = ""  # the draft as it was shown
    cited_documents: frozenset[int] = frozenset()
    vector: bytes | None = None  # the message's embedding as stored (float32 bytes)

    @property
    def guardrail_fired(self) -> bool:
        """Whether any guardrail acted on this draft."""
        return any((self.redactions, self.refusals, self.injection_blocks, self.model_failures))


class GuardrailCounts(BaseModel):
    """How often the guardrails acted: drafts on which any fired, and the count of each kind."""

    fired: Metric | None = Field(description="Share of drafts on which any guardrail fired.")
    redactions: int = Field(description="Personal data replaced before a model saw them.")
    refusals: int = Field(description="Drafts whose drafter declined to answer.")
    injection_blocks: int = Field(description="Drafts not sent: instructions found in the data.")
    model_failures: int = Field(description="Drafts written by the fallback: the model failed.")


class DraftingKpis(BaseModel):
    """The drafting KPIs of a set of drafts (a week, an arm or the whole period)."""

    drafts: int
    judged: int = Field(description="Drafts a reviewer accepted, edited or rejected.")
    faithfulness: Metric | None = Field(description="Share of sentences their sources support.")
    unsupported_claims: Metric | None = Field(
        description="Share of drafts with a sentence the checker found unsupported."
    )
    reviewer_changes: Metric | None = Field(
        description="Share of judged drafts the reviewer rejected or edited."
    )
    acceptance: Metric | None = Field(description="Share of judged drafts accepted as is.")
    edit_distance: Metric | None = Field(
        description="Median normalised edit distance of accepted and edited drafts (0: as is)."
    )
    guardrails: GuardrailCounts
    consistency: Consistency = Field(description="The same question answered the same way.")
    paraphrase_consistency: ParaphraseConsistency = Field(
        description="Nearly the same message (by its embedding, paraphrases and exact repeats) "
        "answered the same way."
    )
    checker: CheckerAgreement = Field(
        description="The checker's flag against the reviewers' verdicts on judged drafts."
    )


class DraftingWeek(DraftingKpis):
    """The drafting KPIs of one ISO week (drafts by the week they were made)."""

    week: str


class DraftingReport(BaseModel):
    """A process's drafting KPIs: overall, per ISO week and per arm, at its confidence."""

    process_id: int
    arm: Arm | None = Field(description="The arm the numbers are for; none: every draft.")
    confidence: float
    overall: DraftingKpis
    weeks: list[DraftingWeek]
    arms: dict[str, DraftingKpis] = Field(
        description="The whole period per arm, for the arms the drafted items belong to."
    )


def drafting_kpis(
    drafts: Sequence[DraftRecord],
    *,
    confidence: float = 0.95,
    keys: TextKeys | None = None,
    partners: ParaphrasePartners | None = None,
    same_arm: bool = False,
) -> DraftingKpis:
    """The KPIs of `drafts` (`keys`, `partners`: a report's normalised texts and paraphrase
    partners, shared by its sets; `same_arm`: `drafts` are of one arm)."""
    judged = [d for d in drafts if d.verdict is not None]
    changed = sum(d.verdict in ("edited", "rejected") for d in judged)
    distances = [d.edit_distance for d in judged if d.edit_distance is not None]
    sentences = sum(d.sentences for d in drafts)
    supported = sum(d.supported_sentences for d in drafts)
    unsupported = sum(d.has_unsupported_claim for d in drafts)
    return DraftingKpis(
        drafts=len(drafts),
        judged=len(judged),
        faithfulness=metric(proportion_wilson(supported, sentences, confidence=confidence)),
        unsupported_claims=metric(
            proportion_wilson(unsupported, len(drafts), confidence=confidence)
        ),
        reviewer_changes=metric(proportion_wilson(changed, len(judged), confidence=confidence)),
        acceptance=metric(
            proportion_wilson(len(judged) - changed, len(judged), confidence=confidence)
        ),
        edit_distance=metric(median_order_statistic(distances, confidence=confidence)),
        guardrails=GuardrailCounts(
            fired=metric(
                proportion_wilson(
                    sum(d.guardrail_fired for d in drafts), len(drafts), confidence=confidence
                )
            ),
            redactions=sum(d.redactions for d in drafts),
            refusals=sum(d.refusals for d in drafts),
            injection_blocks=sum(d.injection_blocks for d in drafts),
            model_failures=sum(d.model_failures for d in drafts),
        ),
        consistency=consistency(drafts, confidence=confidence, keys=keys),
        paraphrase_consistency=paraphrase_consistency(
            drafts, confidence=confidence, keys=keys, partners=partners, same_arm=same_arm
        ),
        checker=checker_agreement(drafts, confidence=confidence),
    )


def drafting_report(
    drafts: Iterable[DraftRecord],
    *,
    process_id: int,
    arm: Arm | None = None,
    confidence: float = 0.95,
) -> DraftingReport:
    """Overall, weekly and per-arm drafting KPIs of `drafts` (of one arm when `arm` is set)."""
    every = list(drafts)
    chosen = [d for d in every if arm is None or d.arm == arm]
    weeks: dict[str, list[DraftRecord]] = defaultdict(list)
    for draft in chosen:
        weeks[iso_week(draft.created_at)].append(draft)
    arms: dict[str, list[DraftRecord]] = defaultdict(list)
    for draft in every:
        if draft.arm is not None:
            arms[draft.arm].append(draft)
    measure = partial(
        drafting_kpis,
        confidence=confidence,
        keys=TextKeys(),
        partners=ParaphrasePartners(every),
        same_arm=arm is not None,  # the period and its weeks: of one arm, or of every draft
    )
    return DraftingReport(
        process_id=process_id,
        arm=arm,
        confidence=confidence,
        overall=measure(chosen),
        weeks=[
            DraftingWeek(week=week, **measure(group).model_dump())
            for week, group in sorted(weeks.items())
        ],
        arms={name: measure(group, same_arm=True) for name, group in sorted(arms.items())},
    )
