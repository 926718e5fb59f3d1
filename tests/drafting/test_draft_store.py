"""Every draft is stored with its check and the guardrails that fired; the reviewer's verdict is
kept once, audited and measured as an edit distance; accepted and edited drafts come back as
examples when a similar item of the process is drafted (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import AuditEvent, Decision, DraftVerdict, Item, StoredDraft
from deshi.drafting.core import Draft, Evidence, Example
from deshi.drafting.models import DraftRequest, DraftVerdictCreate, DraftVerdictPublic
from deshi.drafting.service import draft_reply
from deshi.drafting.verdicts import judge_draft
from deshi.engine.types import Route
from deshi.errors import Conflict, NotFound, ValidationFailed
from deshi.knowledge.service import SourceFile, store_documents
from deshi.processes.service import create_department, create_process
from knowledge_fakes import fake_index

GUIDE = (
    "# Cards\n\nA new card arrives within 5 working days. If it has not arrived after 7 days, "
    "freeze it in the app and order a replacement.\n"
)
DRAFTED = "Freeze the card in the app [1]."


@dataclass
class FixedDrafter:
    """Writes `text` whatever it is asked, and remembers the examples it was given."""

    text: str = DRAFTED
    guardrails: tuple[str, ...] = ()
    redactions: int = 0
    name: str = "fixed"
    seen: list[list[Example]] = field(default_factory=list)

    def draft(
        self,
        question: str,
        evidence: Sequence[Evidence],
        examples: Sequence[Example] = (),
        guidance: str = "",
    ) -> Draft:
        self.seen.append(list(examples))
        return Draft(self.text, self.name, guardrails=self.guardrails, redactions=self.redactions)


@dataclass(frozen=True)
class Setting:
    department: int
    process: int
    items: dict[str, int]


ITEMS = {
    "late": ("My new card has not arrived after eight days", "card_arrival"),
    "late_again": ("The card has still not arrived after nine days", "card_arrival"),
    "later": ("Where is my card? It has not arrived yet", "card_arrival"),
    "rate": ("Which exchange rate do you use for dollars?", "exchange_rate"),
}


@pytest.fixture
def setting(session_factory: sessionmaker[Session]) -> Setting:
    with transaction(session_factory) as session:
        department = create_department(session, actor="test", name="Cards").id
        process = create_process(
            session,
            actor="test",
            department_id=department,
            name="routing",
            labels=["card_arrival", "exchange_rate"],
        ).id
        store_documents(
            session,
            actor="test",
            department_id=department,
            files=[SourceFile("cards.md", GUIDE.encode())],
            index=fake_index(),
        )
        items = {}
        for key, (text, label) in ITEMS.items():
            item = Item(process_id=process, text=text)
            session.add(item)
            session.flush()
            session.add(Decision(item_id=item.id, label=label, confidence=0.9, route=Route.REVIEW))
            items[key] = item.id
    return Setting(department, process, items)


def _draft(
    factory: sessionmaker[Session], setting: Setting, key: str | None, drafter: FixedDrafter
) -> int:
    message = ITEMS[key][0] if key else "My card has not arrived"
    request = DraftRequest(
        department_id=setting.department,
        message=message,
        item_id=setting.items[key] if key else None,
    )
    with transaction(factory) as session:
        return draft_reply(
            session, actor="reviewer", request=request, drafter=drafter, index=fake_index()
        ).id


def _judge(
    factory: sessionmaker[Session], draft_id: int, verdict: str, text: str | None = None
) -> DraftVerdictPublic:
    with transaction(factory) as session:
        body = DraftVerdictCreate(verdict=verdict, text=text)  # type: ignore[arg-type]
        return judge_draft(session, actor="reviewer", draft_id=draft_id, body=body)


def test_a_draft_is_stored_with_its_check_citations_and_guardrails(
    session_factory: sessionmaker[Session], setting: Setting
) -> None:
    drafter = FixedDrafter(guardrails=("redacted:2", "injection_blocked"), redactions=2)
    draft_id = _draft(session_factory, setting, "late", drafter)

    with session_factory() as session:
        row = session.get(StoredDraft, draft_id)
        assert row is not None
        assert (row.item_id, row.process_id, row.label) == (
            setting.items["late"],
            setting.process,
            "card_arrival",
        )
        assert row.text == DRAFTED and row.drafter == "fixed" and len(row.citations) == 1
        assert (row.sentences, row.supported_sentences, row.has_unsupported_claim) == (1, 1, False)
        assert (row.redactions, row.injection_blocks, row.refusals) == (2, 1, 0)
        assert row.verdict is None


def test_a_draft_without_an_item_is_stored_for_the_department_only(
    session_factory: sessionmaker[Session], setting: Setting
) -> None:
    draft_id = _draft(session_factory, setting, None, FixedDrafter())
    with session_factory() as session:
        row = session.get(StoredDraft, draft_id)
        assert row is not None and row.department_id == setting.department
        assert row.item_id is None and row.process_id is None


def test_an_item_of_another_department_is_not_found(
    session_factory: sessionmaker[Session], setting: Setting
) -> None:
    with transaction(session_factory) as session:
        elsewhere = create_department(session, actor="test", name="Elsewhere").id
    request = DraftRequest(department_id=elsewhere, message="hi", item_id=setting.items["late"])
    with transaction(session_factory) as session, pytest.raises(NotFound):
        draft_reply(session, actor="x", request=request, drafter=FixedDrafter(), index=fake_index())


def test_an_edit_keeps_the_final_text_and_its_edit_distance_and_is_audited(
    session_factory: sessionmaker[Session], setting: Setting
) -> None:
    draft_id = _draft(session_factory, setting, "late", FixedDrafter())
    # Four characters ("now ") inserted: 4 edits over the 35 characters of the longer text.
    judged = _judge(session_factory, draft_id, "edit", "Freeze the card now in the app [1].")

    assert judged.verdict == DraftVerdict.EDITED and judged.verdict_by == "reviewer"
    assert judged.final_text == "Freeze the card now in the app [1]."
    assert judged.edit_distance == pytest.approx(4 / 35, abs=1e-4)
    with session_factory() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "draft.edit"))
        assert event.object_id == str(draft_id) and event.department_id == setting.department
        assert event.after["verdict"] == "edited" and "Freeze" not in str(event.after)


def test_accept_and_reject_are_kept_and_audited_and_a_second_verdict_is_a_conflict(
    session_factory: sessionmaker[Session], setting: Setting
) -> None:
    accepted = _draft(session_factory, setting, "late", FixedDrafter())
    rejected = _draft(session_factory, setting, "rate", FixedDrafter())

    assert _judge(session_factory, accepted, "accept").edit_distance == 0.0
    judged = _judge(session_factory, rejected, "reject")
    assert judged.verdict == DraftVerdict.REJECTED and judged.final_text is None
    assert judged.edit_distance is None
    with pytest.raises(Conflict):
        _judge(session_factory, accepted, "reject")
    with session_factory() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("draft.%"))
        ).all()
        assert sorted(actions) == ["draft.accept", "draft.reject"]


def test_an_unchanged_edit_is_an_acceptance_and_bad_verdicts_are_refused(
    session_factory: sessionmaker[Session], setting: Setting
) -> None:
    draft_id = _draft(session_factory, setting, "late", FixedDrafter())
    with pytest.raises(ValidationFailed):
        _judge(session_factory, draft_id, "accept", "some text")
    with pytest.raises(ValidationFailed):
        _judge(session_factory, draft_id, "edit", None)
    with pytest.raises(NotFound):
        _judge(session_factory, draft_id + 1000, "accept")
    assert _judge(session_factory, draft_id, "edit", DRAFTED).verdict == DraftVerdict.ACCEPTED


def test_accepted_and_edited_answers_teach_the_next_draft_same_label_first(
    session_factory: sessionmaker[Session], setting: Setting
) -> None:
    late = _draft(session_factory, setting, "late", FixedDrafter())
    _judge(session_factory, late, "edit", "Please freeze the card and order a new one [1].")
    rate = _draft(session_factory, setting, "rate", FixedDrafter(text="Interbank rate [1]."))
    _judge(session_factory, rate, "accept")
    refused = _draft(session_factory, setting, "late_again", FixedDrafter(text="No idea."))
    _judge(session_factory, refused, "reject")

    drafter = FixedDrafter()
    _draft(session_factory, setting, "later", drafter)

    [examples] = drafter.seen
    assert [x.answer for x in examples] == [
        "Please freeze the card and order a new one.",  # the edit, without its citation
        "Interbank rate.",  # another label: after the same-label answers
    ]
    assert examples[0].question == ITEMS["late"][0]
    assert "No idea." not in [x.answer for x in examples]  # a rejected draft teaches nothing


def test_a_draft_of_the_first_item_gets_no_examples(
    session_factory: sessionmaker[Session], setting: Setting
) -> None:
    drafter = FixedDrafter()
    _draft(session_factory, setting, "late", drafter)
    assert drafter.seen == [[]]
