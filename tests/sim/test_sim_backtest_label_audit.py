"""`run_backtest(..., history=..., label_audit=True)`: the history's label audit in the figures
(issue #22, point 3). The test plants the wrong labels, so it knows what the audit should find."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from deshi.sim.backtest import BacktestSettings, audit_history, run_backtest
from deshi.sim.dataset import Dataset, LabelledItem
from deshi.sim.report import summary_figures

MakeAgent = Callable[..., Any]

TOPICS = {
    "billing": ["invoice", "refund", "charge", "payment", "bill", "receipt"],
    "shipping": ["parcel", "delivery", "courier", "package", "tracking", "shipment"],
    "login": ["password", "login", "locked account", "two-factor code", "sign in", "username"],
}
PLANTED = 8  # wrong labels planted among the history's rows


def _history(rows: int = 240, seed: int = 3) -> tuple[Dataset, set[str]]:
    """Clean topic questions with PLANTED labels swapped for another topic's; the swapped rows'
    case ids."""
    rng = random.Random(seed)
    labels = sorted(TOPICS)
    items: list[LabelledItem] = []
    for n in range(1, rows + 1):
        label = labels[n % len(labels)]
        words = rng.sample(TOPICS[label], 2)
        text = f"question {rng.randint(1, 9999)} about my {words[0]} and the {words[1]}"
        items.append(LabelledItem(case_id=f"row-{n}", text=text, label=label))
    wrong: set[str] = set()
    for index in rng.sample(range(rows), PLANTED):
        item = items[index]
        other = next(label for label in labels if label != item.label)
        items[index] = LabelledItem(case_id=item.case_id, text=item.text, label=other)
        wrong.add(f"history-{item.case_id}")
    return Dataset("history.csv", tuple(items)).renamed("history-"), wrong


LIVE = Dataset(
    "live.csv",
    (
        LabelledItem(case_id="row-1", text="my invoice is wrong", label="billing"),
        LabelledItem(case_id="row-2", text="where is my parcel", label="shipping"),
    ),
)


def test_the_audit_finds_the_planted_wrong_labels_most_suspicious_first() -> None:
    history, wrong = _history()

    audit = audit_history(history, featurizer="tfidf")

    assert audit.audited and audit.rows == 240
    listed = [row.case_id for row in audit.most_suspicious]
    assert len(set(listed[:PLANTED]) & wrong) >= PLANTED - 2  # the top of the list is right
    assert audit.model_disagrees >= PLANTED - 2
    assert audit.flagged >= audit.model_disagrees
    assert audit.estimated_noise is not None
    assert abs(audit.estimated_noise - PLANTED / 240) <= 0.02
    top = audit.most_suspicious[0]
    assert top.suggested_label is not None and top.suggested_label != top.label


def test_the_figures_carry_the_audit_under_history(make_fake_agent: MakeAgent) -> None:
    history, _ = _history()
    settings = BacktestSettings()

    result = run_backtest(
        LIVE, settings=settings, agent=make_fake_agent(), history=history, label_audit=True
    )

    figures = json.loads(json.dumps(result.to_dict()))["history"]["label_audit"]
    assert figures["rows"] == 240 and figures["audited"] is True
    assert figures["flagged"] >= len(figures["most_suspicious"]) > 0
    assert len(figures["most_suspicious"]) <= 10  # the top rows only, not every flag
    assert figures["model_disagrees"] + figures["conflicting_duplicates"] >= figures["flagged"]
    assert 0 < figures["estimated_noise"] < 0.1
    assert set(figures["most_suspicious"][0]) == {
        "case_id", "label", "suggested_label", "score", "reasons",
    }  # fmt: skip
    assert figures["seconds"] >= 0


def test_without_asking_there_is_no_audit(make_fake_agent: MakeAgent) -> None:
    history, _ = _history(rows=40)
    result = run_backtest(
        LIVE, settings=BacktestSettings(), agent=make_fake_agent(), history=history
    )

    assert result.history is not None
    assert result.to_dict()["history"]["label_audit"] is None
    assert all(figure.label != "History label audit" for figure in summary_figures(result))


def test_a_history_too_small_to_audit_says_so(make_fake_agent: MakeAgent) -> None:
    history, _ = _history(rows=12)
    result = run_backtest(
        LIVE,
        settings=BacktestSettings(),
        agent=make_fake_agent(),
        history=history,
        label_audit=True,
    )

    assert result.history is not None and result.history.label_audit is not None
    audit = result.history.label_audit
    assert (audit.audited, audit.flagged, audit.estimated_noise) == (False, 0, None)
    figure = next(f for f in summary_figures(result) if f.label == "History label audit")
    assert "too few rows or labels to audit" in figure.note


def test_a_conflicting_duplicate_is_flagged_for_that_reason() -> None:
    history, _ = _history(rows=60)
    twin = history.items[0]
    other = next(label for label in sorted(TOPICS) if label != twin.label)
    copy = LabelledItem(case_id="history-twin", text=twin.text, label=other)
    audit = audit_history(Dataset("h.csv", (*history.items, copy)), featurizer="tfidf")

    assert audit.conflicting_duplicates >= 2  # each twin disagrees with the other
    reasons = {row.case_id: row.reasons for row in audit.most_suspicious}
    assert any("conflicting_duplicate" in r for r in reasons.values())


def test_the_summary_has_an_audit_line_in_english_and_japanese(make_fake_agent: MakeAgent) -> None:
    history, _ = _history()
    result = run_backtest(
        LIVE,
        settings=BacktestSettings(),
        agent=make_fake_agent(),
        history=history,
        label_audit=True,
    )
    assert result.history is not None and result.history.label_audit is not None
    flagged = result.history.label_audit.flagged

    english = next(f for f in summary_figures(result) if f.label == "History label audit")
    japanese = next(
        f for f in summary_figures(result, locale="ja") if f.label == "履歴のラベル監査"
    )
    assert english.value == f"{flagged} flagged"
    assert "estimated label noise" in english.note and "240 rows" in english.note
    assert japanese.value == f"{flagged} 件を指摘"
    assert "推定ラベル誤り率" in japanese.note
