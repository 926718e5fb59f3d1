"""When a draft may be sent without review (issue #25, point 5): the rules, with no I/O.

**Error.** A draft is wrong when a reviewer would not accept it as is: a verdict of `edited`
or `rejected` is an error, `accepted` is right. So the error budget ε of the process bounds the
share of sent drafts a reviewer would have changed.

**Score.** A draft is ranked by `draft_score`: the agent's confidence in the item's label times
the support of the draft's weakest sentence. The label's confidence says the agent knows what
the item is (its past answers and the reviewer's reading depend on it); the weakest sentence is
where a reviewer's edit goes (a draft is only as good as its worst sentence, and the gates
below already require every sentence to pass the check, so the share of supported sentences
would be 1 for every candidate and rank nothing). The product is 1 only when both are. The
guarantee does not depend on the score being good: the threshold is certified on verdicts, and
a poor score only certifies less.

**Certification.** The judged drafts of the process (scores and verdicts) and its unjudged
scored drafts (the population the threshold will meet) go through the labels' own test,
`deshi.engine.policy.calibrate_threshold`: Learn-then-Test fixed sequences with one-sided
Clopper–Pearson bounds at the process's ε and δ, post-stratified on the score. Too few clean
verdicts (fewer than `needed`) certify nothing, which is the default state.

**Gates.** A draft is sent only when the policy is on, the blind audit has not paused
sending, a threshold is certified, its score reaches the threshold, every sentence is supported,
no guardrail fired and the drafter found something to say. The two "never" gates (an
unsupported sentence, a guardrail) are checked first, so the reason stored is the hardest one.

**Audit.** An item sampled for the label's blind audit is reviewed instead of completed; a
draft of it that passes every gate (pausing aside) is the draft that would have been sent, and
the reviewer's verdict on it, given without being told, is the unbiased audit evidence. The
labels' anytime-valid monitor (`AuditMonitor`) pauses sending when that evidence rejects
"error ≤ ε" at level δ. A Clopper–Pearson bound above ε would pause at once on any small audit
(no error in 20 audits still bounds the error at 0.14 at 95 %), so it is shown, not acted on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from deshi.drafting.faithfulness import FaithfulnessReport
from deshi.engine.policy import (
    SEQUENCES,
    AuditMonitor,
    MonitorState,
    calibrate_threshold,
    smallest_certifiable_n,
)

__all__ = [
    "AuditVerdict",
    "Certification",
    "Outcome",
    "audit_verdict",
    "autosend_outcome",
    "certify",
    "draft_score",
]


class Outcome(StrEnum):
    """What the auto-send path did with a draft it made."""

    SENT = "sent"
    AUDIT_SAMPLE = "audit_sample"  # would have been sent; its item is in the blind audit
    POLICY_OFF = "policy_off"
    UNSUPPORTED_CLAIM = "unsupported_claim"
    GUARDRAIL = "guardrail"
    NOTHING_FOUND = "nothing_found"
    NOT_CERTIFIED = "not_certified"
    PAUSED = "paused"
    BELOW_THRESHOLD = "below_threshold"


def draft_score(confidence: float | None, report: FaithfulnessReport) -> float | None:
    """The label's confidence × the weakest sentence's support; None without a label's
    confidence or without a sentence."""
    if confidence is None or not report.sentences:
        return None
    weakest = min(s.support for s in report.sentences)
    return round(float(confidence) * weakest, 6)


@dataclass(frozen=True, slots=True)
class Certification:
    """The certified draft threshold (None: nothing certified) and its evidence."""

    threshold: float | None
    bound: float | None  # the certified upper bound on the error at that threshold
    judged: int
    needed: int  # the fewest clean verdicts that could certify anything at ε and δ


def certify(
    judged_scores: Sequence[float],
    accepted: Sequence[bool],
    unjudged_scores: Sequence[float],
    *,
    epsilon: float,
    delta: float,
) -> Certification:
    """The loosest draft score threshold whose error (not accepted as is) is ≤ ε with
    probability ≥ 1 − δ, by the labels' fixed-sequence test."""
    needed = smallest_certifiable_n(epsilon, delta / SEQUENCES)
    if len(judged_scores) < needed:  # no region could pass: skip the arithmetic
        return Certification(None, None, len(judged_scores), needed)
    calibration = calibrate_threshold(
        np.asarray(judged_scores, dtype=np.float64),
        np.asarray(accepted, dtype=bool),
        np.asarray(unjudged_scores, dtype=np.float64),
        epsilon=epsilon,
        delta=delta,
    )
    return Certification(
        calibration.threshold, calibration.certified_error_bound, len(judged_scores), needed
    )


def autosend_outcome(
    *,
    enabled: bool,
    threshold: float | None,
    paused: bool,
    score: float | None,
    report: FaithfulnessReport,
    guardrails: Sequence[str],
    refused: bool,
    audit: bool,
) -> Outcome:
    """Sent, an audit sample, or the first reason to hold the draft as a suggestion."""
    if not enabled:
        return Outcome.POLICY_OFF
    if report.has_unsupported_claim:
        return Outcome.UNSUPPORTED_CLAIM
    if guardrails:
        return Outcome.GUARDRAIL
    if refused:
        return Outcome.NOTHING_FOUND
    if paused and not audit:  # audit samples go on: the evidence must flow to lift the pause
        return Outcome.PAUSED
    if threshold is None:
        return Outcome.NOT_CERTIFIED
    if score is None or score < threshold:
        return Outcome.BELOW_THRESHOLD
    return Outcome.AUDIT_SAMPLE if audit else Outcome.SENT


@dataclass(frozen=True, slots=True)
class AuditVerdict:
    """What the blind audit of would-be-sent drafts says."""

    audited: int
    errors: int
    upper_bound: float  # one-sided Clopper–Pearson at level δ, shown
    pause: bool  # the anytime-valid monitor rejects "error ≤ ε" at level δ


def audit_verdict(audited: int, errors: int, *, epsilon: float, delta: float) -> AuditVerdict:
    """The labels' audit monitor over the verdicts on audit-sample drafts."""
    monitor = AuditMonitor(audited, errors)
    upper = monitor.upper_bound(delta) if audited else 1.0
    pause = monitor.state(epsilon, delta) is MonitorState.SUSPENDED
    return AuditVerdict(audited, errors, round(upper, 6) if math.isfinite(upper) else 1.0, pause)
