"""The rules of sending drafts without review, on synthetic verdicts: enough clean evidence
certifies a threshold, too little or noisy evidence certifies nothing, the gates never let an
unsupported sentence, a fired guardrail or a process with the policy off send, and the blind
audit's monitor pauses on evidence of errors over the budget."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from deshi.drafting.autosend import (
    Outcome,
    audit_verdict,
    autosend_outcome,
    certify,
    draft_score,
)
from deshi.drafting.faithfulness import FaithfulnessReport, SentenceCheck
from deshi.engine.policy import SEQUENCES, smallest_certifiable_n

EPSILON, DELTA = 0.05, 0.05


def _report(*supports: float, unsupported: bool = False) -> FaithfulnessReport:
    checks = [SentenceCheck(f"s{i} [1].", (1,), s, (), True) for i, s in enumerate(supports)]
    if unsupported:
        checks.append(SentenceCheck("Made up [1].", (1,), 0.2, (), False))
    return FaithfulnessReport(tuple(checks))


def _verdicts(
    n: int, error_of: Callable[[np.ndarray], np.ndarray] | float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`n` draft scores, uniform in [0.3, 1), and whether each was accepted as is."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.3, 1.0, n)
    p_error = error_of(scores) if callable(error_of) else np.full(n, error_of)
    return scores, rng.random(n) >= p_error


def test_the_score_is_the_label_confidence_times_the_weakest_sentence() -> None:
    assert draft_score(0.9, _report(1.0, 0.7, 0.95)) == pytest.approx(0.63)
    assert draft_score(None, _report(1.0)) is None  # a draft of no item
    assert draft_score(0.9, FaithfulnessReport(())) is None


def test_enough_clean_verdicts_certify_a_threshold_within_the_budget() -> None:
    scores, accepted = _verdicts(400, 0.0)
    found = certify(scores, accepted, [], epsilon=EPSILON, delta=DELTA)

    assert found.threshold is not None and found.threshold <= 0.35
    assert found.bound is not None and found.bound <= EPSILON
    assert (found.judged, found.needed) == (400, smallest_certifiable_n(EPSILON, DELTA / SEQUENCES))


def test_too_few_verdicts_certify_nothing_however_clean() -> None:
    needed = smallest_certifiable_n(EPSILON, DELTA / SEQUENCES)
    scores, accepted = _verdicts(needed - 1, 0.0)
    found = certify(scores, accepted, [], epsilon=EPSILON, delta=DELTA)
    assert found.threshold is None and found.bound is None and found.needed == needed == 80


def test_noisy_verdicts_certify_nothing() -> None:
    scores, accepted = _verdicts(1000, 0.2)  # a reviewer changes one draft in five
    assert certify(scores, accepted, [], epsilon=EPSILON, delta=DELTA).threshold is None


def test_errors_among_low_scores_leave_only_the_high_scores_certified() -> None:
    scores, accepted = _verdicts(2000, lambda s: np.where(s < 0.6, 0.4, 0.0))
    found = certify(scores, accepted, [], epsilon=EPSILON, delta=DELTA)

    assert found.threshold is not None and found.threshold > 0.55
    above = scores >= found.threshold
    assert 1 - accepted[above].mean() <= EPSILON


def test_the_certified_error_holds_in_at_least_one_minus_delta_of_seeds() -> None:
    """Truth known: a draft of score s is changed with probability 0.3 (1 − s)². Over seeds,
    the true error of the drafts at or above the certified threshold exceeds ε rarely."""
    grid = np.linspace(0.3, 1.0, 100_001)  # the score's distribution, for the true error

    def true_error(threshold: float) -> float:
        above = grid[grid >= threshold]
        return float(np.mean(0.3 * (1 - above) ** 2))

    seeds, violations = 60, 0
    for seed in range(seeds):
        scores, accepted = _verdicts(600, lambda s: 0.3 * (1 - s) ** 2, seed=seed)
        found = certify(scores, accepted, [], epsilon=EPSILON, delta=DELTA)
        if found.threshold is not None and true_error(found.threshold) > EPSILON:
            violations += 1
    assert violations / seeds <= DELTA


GOOD = _report(1.0, 0.9)


def _outcome(**changes: object) -> Outcome:
    arguments: dict[str, object] = {
        "enabled": True,
        "threshold": 0.5,
        "paused": False,
        "score": 0.9,
        "report": GOOD,
        "guardrails": [],
        "refused": False,
        "audit": False,
    }
    return autosend_outcome(**(arguments | changes))  # type: ignore[arg-type]


def test_a_certified_supported_draft_above_the_threshold_is_sent() -> None:
    assert _outcome() is Outcome.SENT


def test_an_unsupported_sentence_is_never_sent() -> None:
    report = _report(1.0, unsupported=True)
    assert _outcome(report=report, threshold=0.0, score=1.0) is Outcome.UNSUPPORTED_CLAIM
    assert _outcome(report=report, audit=True) is Outcome.UNSUPPORTED_CLAIM


@pytest.mark.parametrize("guardrail", ["redacted:1", "injection_blocked", "model_failed"])
def test_a_fired_guardrail_is_never_sent(guardrail: str) -> None:
    assert _outcome(guardrails=[guardrail], threshold=0.0, score=1.0) is Outcome.GUARDRAIL


def test_with_the_policy_off_nothing_is_sent() -> None:
    assert _outcome(enabled=False, threshold=0.0, score=1.0) is Outcome.POLICY_OFF


def test_the_other_holds() -> None:
    assert _outcome(refused=True) is Outcome.NOTHING_FOUND
    assert _outcome(threshold=None) is Outcome.NOT_CERTIFIED
    assert _outcome(score=0.49) is Outcome.BELOW_THRESHOLD
    assert _outcome(score=None) is Outcome.BELOW_THRESHOLD
    assert _outcome(paused=True) is Outcome.PAUSED


def test_an_audit_sample_is_held_for_the_audit_even_while_paused() -> None:
    assert _outcome(audit=True) is Outcome.AUDIT_SAMPLE
    assert _outcome(audit=True, paused=True) is Outcome.AUDIT_SAMPLE
    assert _outcome(audit=True, score=0.1) is Outcome.BELOW_THRESHOLD


def test_the_audit_pauses_on_evidence_of_errors_over_the_budget() -> None:
    clean = audit_verdict(60, 1, epsilon=EPSILON, delta=DELTA)
    assert not clean.pause and clean.upper_bound > EPSILON  # a bound over ε alone: no pause
    bad = audit_verdict(60, 15, epsilon=EPSILON, delta=DELTA)
    assert bad.pause and bad.upper_bound > 0.25
    assert not audit_verdict(0, 0, epsilon=EPSILON, delta=DELTA).pause
