"""Reading the audit log per department: readers see their departments' events, not others'."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from alembic import command
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import audit_departments, list_events, verify_chain
from deshi.auth.service import create_user, grant_role, revoke_role
from deshi.db import make_session_factory, transaction
from deshi.db.migrate import alembic_config, upgrade_to_head
from deshi.db.tables import AuditEvent, Item, ModelVersion, Process, Review, Webhook
from deshi.domain import Role
from deshi.errors import PermissionDenied
from deshi.inventory.models import CandidateCreate
from deshi.inventory.service import add_candidate, delete_candidate_for
from deshi.items.models import ItemCreate
from deshi.items.service import IngestLimits, ingest_items
from deshi.learning.registry import AgentRegistry
from deshi.permissions import Grant, Principal
from deshi.processes.service import create_department, create_process
from deshi.reviews.models import ReviewCreate
from deshi.reviews.service import claim_next, submit_review
from deshi.webhooks.models import WebhookCreate
from deshi.webhooks.outbound import OutboundPolicy
from deshi.webhooks.service import create_webhook

ADMIN = Principal.of(1, [Grant(Role.ADMIN, None)])


@dataclass(frozen=True)
class Departments:
    a: int
    b: int
    process_a: int
    process_b: int


def _candidate() -> CandidateCreate:
    return CandidateCreate(
        name="invoices", monthly_volume=100, minutes_per_item=3, exception_rate=0.1,
        measurability=4, hourly_rate=40, currency="EUR",
    )  # fmt: skip


def _work_on(factory: sessionmaker[Session], registry: AgentRegistry, process_id: int) -> None:
    """Ingest one item and review it (which also bootstraps a model version)."""
    ingest_items(
        factory, principal=ADMIN, process_id=process_id,
        items=[ItemCreate(text="Where is my card?")], limits=IngestLimits(), batch=False,
        registry=registry,
    )  # fmt: skip
    with transaction(factory) as session:
        claimed = claim_next(session, principal=ADMIN, process_id=process_id)
        assert claimed is not None
        answer = ReviewCreate(action="correct", label="card", seconds=5)
        submit_review(
            session, principal=ADMIN, item_id=claimed.id, answer=answer, registry=registry
        )


def _two_departments(factory: sessionmaker[Session]) -> Departments:
    """Two departments with a process each and events about every kind of object."""
    with transaction(factory) as session:
        a = create_department(session, actor="test", name="A")
        b = create_department(session, actor="test", name="B")
        pa, pb = (
            create_process(session, actor="test", department_id=d.id, name="p", labels=["card"])
            for d in (a, b)
        )
        user = create_user(session, actor="test", email="u@example.com", display_name="U")
        grant = grant_role(session, actor="test", user_id=user.id, role=Role.OWNER,
                           department_id=b.id)  # fmt: skip
        candidate = add_candidate(session, actor="test", department_id=b.id, data=_candidate())
        hook = WebhookCreate.model_validate({"url": "https://example.com/hook"})
        public = OutboundPolicy(resolver=lambda _host: ["93.184.215.14"])  # no DNS in tests
        create_webhook(session, principal=ADMIN, process_id=pb.id, data=hook, outbound=public)
        world = Departments(a.id, b.id, pa.id, pb.id)
    registry = AgentRegistry()  # this test's own: its database starts at process id 1
    for process_id in (world.process_a, world.process_b):
        _work_on(factory, registry, process_id)
    with transaction(factory) as session:  # deleted rows keep their department in the event
        revoke_role(session, actor="test", grant_id=grant.id)
        delete_candidate_for(session, principal=ADMIN, candidate_id=candidate.id)
    return world


def _department_of(session: Session, event: AuditEvent) -> int | None:
    """The department an event is about, found object by object (the oracle for the query)."""
    key = int(event.object_id)
    process_id = {
        "processes": lambda: key,
        "items": lambda: session.get_one(Item, key).process_id,
        "reviews": lambda: session.get_one(Item, session.get_one(Review, key).item_id).process_id,
        "model_versions": lambda: session.get_one(ModelVersion, key).process_id,
        "webhooks": lambda: session.get_one(Webhook, key).process_id,
    }.get(event.object_type)
    if process_id is not None:
        return session.get_one(Process, process_id()).department_id
    if event.object_type == "departments":
        return key
    if event.object_type in ("role_grants", "inventory_candidates"):
        department: int | None = (event.after or event.before)["department_id"]
        return department
    return None  # users, api tokens: workspace-level


def _seen(session: Session, principal: Principal) -> list[AuditEvent]:
    departments = audit_departments(principal)
    return list_events(session, departments=departments, before=None, limit=1000)


def test_an_auditor_of_one_department_sees_none_of_anothers_events(
    session_factory: sessionmaker[Session],
) -> None:
    world = _two_departments(session_factory)
    auditor_a = Principal.of(2, [Grant(Role.AUDITOR, world.a)])
    with session_factory() as session:
        everything = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).all()
        seen = _seen(session, auditor_a)
        expected = [e for e in everything if _department_of(session, e) == world.a]
        kinds = {e.object_type for e in everything if _department_of(session, e) == world.b}
    assert [e.seq for e in seen] == [e.seq for e in expected]
    assert {"processes", "items", "reviews", "model_versions"} <= {e.object_type for e in seen}
    assert ("processes", str(world.process_b)) not in {(e.object_type, e.object_id) for e in seen}
    # B had events of every kind, deleted rows included: none of them leaked to A's auditor
    assert kinds >= {"webhooks", "role_grants", "inventory_candidates", "reviews"}


def test_only_departments_where_the_reader_may_read_the_audit_log_count(
    session_factory: sessionmaker[Session],
) -> None:
    world = _two_departments(session_factory)
    reviewer_a_auditor_b = Principal.of(3, [Grant(Role.REVIEWER, world.a),
                                            Grant(Role.AUDITOR, world.b)])  # fmt: skip
    with session_factory() as session:
        seen = _seen(session, reviewer_a_auditor_b)
        assert seen and {_department_of(session, e) for e in seen} == {world.b}
        assert {"role_grants", "inventory_candidates", "webhooks"} <= {e.object_type for e in seen}


def test_a_workspace_admin_sees_every_event_and_a_reviewer_none(
    session_factory: sessionmaker[Session],
) -> None:
    world = _two_departments(session_factory)
    with session_factory() as session:
        total = len(session.scalars(select(AuditEvent.seq)).all())
        assert len(_seen(session, ADMIN)) == total
    assert audit_departments(ADMIN) is None
    with pytest.raises(PermissionDenied):
        audit_departments(Principal.of(4, [Grant(Role.REVIEWER, world.a)]))


def test_pages_of_one_departments_events_go_back_in_seq_order(
    session_factory: sessionmaker[Session],
) -> None:
    world = _two_departments(session_factory)
    with session_factory() as session:
        first = list_events(session, departments={world.a}, before=None, limit=2)
        rest = list_events(session, departments={world.a}, before=first[-1].seq, limit=1000)
        whole = list_events(session, departments={world.a}, before=None, limit=1000)
    assert [e.seq for e in first + rest] == [e.seq for e in whole]


def test_every_event_stores_the_department_it_is_about(
    session_factory: sessionmaker[Session],
) -> None:
    world = _two_departments(session_factory)
    with session_factory() as session:
        events = session.scalars(select(AuditEvent)).all()
        stored = [e.department_id for e in events]
        assert stored == [_department_of(session, e) for e in events]
    assert {world.a, world.b, None} == set(stored)


def test_upgrading_fills_in_the_department_of_events_written_before_it(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    world = _two_departments(session_factory)
    with session_factory() as session:
        written = dict(session.execute(select(AuditEvent.seq, AuditEvent.department_id)).all())
    with engine.begin() as conn:  # back to the schema before the column existed, then forward
        command.downgrade(alembic_config(conn), "0003")
    upgrade_to_head(engine)
    with make_session_factory(engine)() as session:
        filled = dict(session.execute(select(AuditEvent.seq, AuditEvent.department_id)).all())
        seen = _seen(session, Principal.of(2, [Grant(Role.AUDITOR, world.b)]))
        chain = verify_chain(session)  # the hashes cover the departments the backfill restored
    assert filled == written and {world.a, world.b} < set(filled.values())
    assert chain.ok and chain.unscoped == 0
    assert seen and all(e.department_id == world.b for e in seen)
    with pytest.raises(Exception, match="append-only"), transaction(session_factory) as session:
        session.execute(update(AuditEvent).values(department_id=None))  # the guard is back
