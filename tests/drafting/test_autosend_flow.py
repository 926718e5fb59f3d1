"""Sending drafts without review, through the worker, on SQLite and PostgreSQL: an
auto-completed item's draft is sent (webhook, audit, the item's `sent_draft`) only with the
policy on, a certified threshold, every sentence supported and no guardrail fired; an audit
sample's draft is held for the blind audit, shown to its reviewer, and the audit's verdicts
pause sending; a verdict queues the recertification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import (
    AuditEvent,
    Decision,
    DraftAutosendState,
    DraftVerdict,
    Item,
    Job,
    Process,
    StoredDraft,
    Webhook,
    WebhookDelivery,
)
from deshi.domain import ItemStatus, Mode
from deshi.drafting.autosend_job import autosend_handler
from deshi.drafting.autosend_state import (
    CERTIFY_JOB,
    autosend_status,
    certify_handler,
    recertify,
)
from deshi.drafting.core import Draft, Evidence, Example
from deshi.drafting.extractive import ExtractiveDrafter
from deshi.drafting.models import DraftRequest, DraftVerdictCreate
from deshi.drafting.service import awaiting_audit, draft_reply
from deshi.drafting.verdicts import judge_draft
from deshi.engine.types import Route
from deshi.items.autosend import DRAFT_AUTOSEND_JOB, enqueue_autosend
from deshi.jobs.worker import Worker
from deshi.knowledge.service import SourceFile, store_documents
from deshi.learning.registry import AgentRegistry
from deshi.processes.service import create_department, create_process
from deshi.web.background import default_handlers
from deshi.webhooks.outbound import OutboundPolicy
from knowledge_fakes import fake_index

GUIDE = (
    "# Cards\n\nA new card arrives within 5 working days. If it has not arrived after 7 days, "
    "freeze it in the app and order a replacement.\n"
)
MESSAGE = "My new card has not arrived after eight days, what do I do?"


@dataclass
class FixedDrafter:
    """Writes `text` whatever it is asked, with `guardrails` fired."""

    text: str = "Freeze the card in the app and order a replacement [1]."
    guardrails: tuple[str, ...] = ()
    name: str = "fixed"

    def draft(
        self,
        question: str,
        evidence: Sequence[Evidence],
        examples: Sequence[Example] = (),
        guidance: str = "",
    ) -> Draft:
        return Draft(self.text, self.name, guardrails=self.guardrails)


@dataclass(frozen=True)
class Desk:
    department: int
    process: int


@pytest.fixture
def desk(session_factory: sessionmaker[Session]) -> Desk:
    """An autopilot process with auto-send on, a knowledge base and a webhook."""
    with transaction(session_factory) as session:
        department = create_department(session, actor="test", name="Cards").id
        process = create_process(
            session, actor="test", department_id=department, name="routing", labels=["card"]
        )
        process.mode, process.draft_autosend = Mode.AUTOPILOT, True
        process.error_budget = 0.05  # 80 clean verdicts can certify (408 at the default 1 %)
        store_documents(
            session,
            actor="test",
            department_id=department,
            files=[SourceFile("cards.md", GUIDE.encode())],
            index=fake_index(),
        )
        session.add(Webhook(process_id=process.id, url="https://93.184.215.14/hook", secret="s"))
        return Desk(department, process.id)


def _item(factory: sessionmaker[Session], desk: Desk, route: Route = Route.AUTO) -> int:
    """An item the agent decided with confidence 0.99: auto-completed, or an audit sample."""
    status = ItemStatus.AUTO_COMPLETED if route is Route.AUTO else ItemStatus.QUEUED
    with transaction(factory) as session:
        item = Item(process_id=desk.process, text=MESSAGE, arm="ai_led", status=status)
        session.add(item)
        session.flush()
        session.add(Decision(item_id=item.id, label="card", confidence=0.99, route=route))
        process = session.get(Process, desk.process)
        assert process is not None
        enqueue_autosend(
            session,
            process=process,
            items=[item],
            decisions=[SimpleNamespace(route=route)],  # type: ignore[list-item]
        )
        return item.id


def _evidence(
    factory: sessionmaker[Session],
    desk: Desk,
    accepted: int,
    changed: int = 0,
    *,
    certified: bool = True,
) -> None:
    """Judged drafts of the process (scores 0.5 … 1), then the threshold certified on them."""
    verdicts = [DraftVerdict.ACCEPTED] * accepted + [DraftVerdict.EDITED] * changed
    with transaction(factory) as session:
        for n, verdict in enumerate(verdicts):
            session.add(_stored(desk, score=0.5 + 0.5 * n / len(verdicts), verdict=verdict))
        process = session.get(Process, desk.process)
        assert process is not None
        if certified:
            recertify(session, process=process)


def _stored(desk: Desk, *, score: float, verdict: DraftVerdict | None) -> StoredDraft:
    return StoredDraft(
        department_id=desk.department,
        process_id=desk.process,
        drafter="extractive",
        text="x [1].",
        faithfulness=1.0,
        has_unsupported_claim=False,
        created_by="test",
        score=score,
        verdict=verdict,
    )


def _run_worker(factory: sessionmaker[Session], drafter: object | None = None) -> int:
    index = fake_index()
    handlers = {
        DRAFT_AUTOSEND_JOB: autosend_handler(drafter or ExtractiveDrafter(), lambda: index),  # type: ignore[arg-type]
        CERTIFY_JOB: certify_handler(),
    }
    return Worker(factory, handlers).run_until_idle()


def _autosent(session: Session, item_id: int) -> StoredDraft:
    row = session.scalars(
        select(StoredDraft).where(StoredDraft.item_id == item_id, StoredDraft.autosend.is_not(None))
    ).one()
    return row


def test_a_certified_draft_of_an_auto_completed_item_is_sent(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    _evidence(session_factory, desk, accepted=120)
    item_id = _item(session_factory, desk)
    assert _run_worker(session_factory) == 1

    with session_factory() as session:
        row = _autosent(session, item_id)
        assert row.autosend == "sent" and row.sent_at is not None
        assert row.score == pytest.approx(0.99) and not row.has_unsupported_claim
        [delivery] = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event == "draft.sent")
        ).all()
        assert delivery.payload["draft_id"] == row.id and delivery.payload["item_id"] == item_id
        assert "[1]" not in delivery.payload["reply"] and delivery.payload["citations"]
        sent = session.scalars(select(AuditEvent).where(AuditEvent.action == "draft.send")).all()
        assert len(sent) == 1 and "text" not in (sent[0].after or {})
        status = autosend_status(session, session.get(Process, desk.process))  # type: ignore[arg-type]
        assert (status.state, status.sent, status.judged) == ("sending", 1, 120)


def test_the_first_job_after_the_switch_or_a_new_budget_certifies_first(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    _evidence(session_factory, desk, accepted=120, certified=False)
    first = _item(session_factory, desk)
    _run_worker(session_factory)
    with transaction(session_factory) as session:
        assert _autosent(session, first).autosend == "sent"
        process = session.get(Process, desk.process)
        assert process is not None
        process.error_budget = 0.01  # 120 clean verdicts cannot certify 1 %
    second = _item(session_factory, desk)
    _run_worker(session_factory)
    with session_factory() as session:
        assert _autosent(session, second).autosend == "not_certified"
        state = session.get(DraftAutosendState, desk.process)
        assert state is not None and (state.epsilon, state.needed) == (0.01, 408)


def test_the_job_does_not_send_twice(session_factory: sessionmaker[Session], desk: Desk) -> None:
    _evidence(session_factory, desk, accepted=120)
    item_id = _item(session_factory, desk)
    with transaction(session_factory) as session:  # a second job for the same item
        process = session.get(Process, desk.process)
        item = session.get(Item, item_id)
        assert process is not None and item is not None
        session.add(Job(kind=DRAFT_AUTOSEND_JOB, payload={"item_id": item_id}, status="queued"))
    _run_worker(session_factory)
    with session_factory() as session:
        drafts = session.scalars(select(StoredDraft).where(StoredDraft.item_id == item_id)).all()
        assert [d.autosend for d in drafts] == ["sent"]


def test_without_certified_evidence_the_draft_stays_a_suggestion(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    _evidence(session_factory, desk, accepted=40)  # fewer than the 80 needed
    item_id = _item(session_factory, desk)
    _run_worker(session_factory)
    with session_factory() as session:
        row = _autosent(session, item_id)
        assert (row.autosend, row.sent_at) == ("not_certified", None)
        assert not session.scalars(select(WebhookDelivery)).all()
        status = autosend_status(session, session.get(Process, desk.process))  # type: ignore[arg-type]
        assert status.state == "not_certified" and status.held == {"not_certified": 1}


def test_noisy_verdicts_certify_nothing(session_factory: sessionmaker[Session], desk: Desk) -> None:
    _evidence(session_factory, desk, accepted=150, changed=50)
    with session_factory() as session:
        state = session.get(DraftAutosendState, desk.process)
        assert state is not None and state.threshold is None and state.judged == 200


def test_a_draft_with_an_unsupported_sentence_is_never_sent(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    _evidence(session_factory, desk, accepted=120)
    item_id = _item(session_factory, desk)
    _run_worker(session_factory, FixedDrafter("Your card arrives tomorrow by Lufthansa [1]."))
    with session_factory() as session:
        row = _autosent(session, item_id)
        assert row.has_unsupported_claim and (row.autosend, row.sent_at) == (
            "unsupported_claim",
            None,
        )


def test_a_draft_whose_guardrail_fired_is_never_sent(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    _evidence(session_factory, desk, accepted=120)
    item_id = _item(session_factory, desk)
    _run_worker(session_factory, FixedDrafter(guardrails=("redacted:1",)))
    with session_factory() as session:
        assert _autosent(session, item_id).autosend == "guardrail"


def test_with_the_policy_off_nothing_is_drafted_or_sent(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    _evidence(session_factory, desk, accepted=120)
    with transaction(session_factory) as session:
        process = session.get(Process, desk.process)
        assert process is not None
        process.draft_autosend = False
    item_id = _item(session_factory, desk)
    assert _run_worker(session_factory) == 0  # no job was queued
    with session_factory() as session:
        assert not session.scalars(select(StoredDraft).where(StoredDraft.item_id == item_id)).all()
        status = autosend_status(session, session.get(Process, desk.process))  # type: ignore[arg-type]
        assert status.state == "off"


def test_an_audit_sample_is_held_and_shown_to_its_reviewer(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    _evidence(session_factory, desk, accepted=120)
    item_id = _item(session_factory, desk, Route.AUDIT)
    _run_worker(session_factory)
    with transaction(session_factory) as session:
        held = awaiting_audit(session, item_id)
        assert held is not None and (held.autosend, held.sent_at) == ("audit_sample", None)
        request = DraftRequest(department_id=desk.department, message=MESSAGE, item_id=item_id)
        shown = draft_reply(
            session, actor="reviewer", request=request, drafter=FixedDrafter(), index=fake_index()
        )
        assert shown.id == held.id and shown.text == held.text  # the same draft, not a new one
        assert not session.scalars(select(WebhookDelivery)).all()


def test_the_blind_audit_pauses_sending_and_a_verdict_queues_recertification(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    _evidence(session_factory, desk, accepted=120)
    audits = [_item(session_factory, desk, Route.AUDIT) for _ in range(12)]
    _run_worker(session_factory)
    for n, item_id in enumerate(audits):
        with transaction(session_factory) as session:
            held = awaiting_audit(session, item_id)
            assert held is not None
            verdict = "reject" if n % 2 else "accept"  # half the would-be-sent drafts changed
            judge_draft(
                session,
                actor="reviewer",
                draft_id=held.id,
                body=DraftVerdictCreate(verdict=verdict),
            )
    with session_factory() as session:
        queued = session.scalars(select(Job).where(Job.kind == CERTIFY_JOB)).all()
        assert len(queued) == 1  # one recomputation queued for all the verdicts
    _run_worker(session_factory)
    late = _item(session_factory, desk)
    _run_worker(session_factory)

    with session_factory() as session:
        status = autosend_status(session, session.get(Process, desk.process))  # type: ignore[arg-type]
        assert status.paused and status.state == "paused"
        assert (status.audited, status.audit_errors) == (12, 6)
        assert _autosent(session, late).autosend == "paused"
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "draft.autosend_pause" in actions and "draft.autosend_certify" in actions


def test_the_worker_runs_both_jobs() -> None:
    with httpx.Client() as client:
        handlers = default_handlers(
            registry=AgentRegistry(), client=client, outbound=OutboundPolicy()
        )
    assert {DRAFT_AUTOSEND_JOB, CERTIFY_JOB} <= set(handlers)
