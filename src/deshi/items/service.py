"""Item use cases: ingest (decide and route, idempotent on external_id), read with lineage.

Ingesting needs `manage_process` on the item's process (owners, admins, and the service
accounts they grant owner to); reading needs `read`. A reviewer reading a blind item that is
still open sees no decision, so the blind audit stays blind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import ObjectRef, record_event
from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import Decision, Item, Process, Review, StoredDraft
from deshi.domain import ItemStatus
from deshi.errors import Conflict, NotFound, ValidationFailed
from deshi.items import drift, events, repo, routing
from deshi.items.autosend import enqueue_autosend
from deshi.items.models import (
    DecisionPublic,
    ItemCreate,
    ItemPublic,
    ReviewPublic,
    SentDraftPublic,
)
from deshi.items.passages import ensure_passages, passages_public
from deshi.items.reasons import route_reason
from deshi.knowledge import KnowledgeIndex
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import decide_items, decision_rows
from deshi.permissions import Action, Principal, can
from deshi.processes.service import get_process_for

__all__ = [
    "INGEST_ACTION",
    "IngestLimits",
    "Lineage",
    "decision_public",
    "get_item",
    "ingest_items",
    "is_blind",
    "load_item_for",
    "render_items",
]

INGEST_ACTION = Action.MANAGE_PROCESS
_ATTEMPTS = 3  # a lost race on an external id is retried; the retry finds the stored item


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Input size limits of one ingest request."""

    max_text_chars: int = 20_000
    max_batch: int = 1000


def ingest_items(
    factory: sessionmaker[Session],
    *,
    principal: Principal,
    process_id: int,
    items: Sequence[ItemCreate],
    limits: IngestLimits,
    batch: bool,
    registry: AgentRegistry,
) -> list[ItemPublic]:
    """Store, decide and route new items in one transaction; return every item in order.

    Items whose external_id is already stored are returned as they are (created=False). When a
    concurrent request stores the same external_id first, the transaction is rolled back and
    retried, so the caller gets the stored item instead of an error or a duplicate.
    """
    _validate(items, limits=limits, batch=batch)
    ingest = partial(
        _ingest, principal=principal, process_id=process_id, items=items, registry=registry
    )
    for _ in range(_ATTEMPTS - 1):
        try:
            with transaction(factory) as session:
                return ingest(session)
        except repo.DuplicateItem:
            continue
    with transaction(factory) as session:
        return ingest(session)


def _validate(items: Sequence[ItemCreate], *, limits: IngestLimits, batch: bool) -> None:
    """Size limits and duplicates inside the request, with the offending field named."""
    if len(items) > limits.max_batch:
        raise ValidationFailed(f"at most {limits.max_batch} items per batch", field="items")
    seen: set[str] = set()
    for i, item in enumerate(items):
        prefix = f"items[{i}]." if batch else ""
        if len(item.text) > limits.max_text_chars:
            raise ValidationFailed(
                f"text is longer than {limits.max_text_chars} characters", field=f"{prefix}text"
            )
        if item.external_id is not None:
            if item.external_id in seen:
                raise ValidationFailed(
                    f"external_id {item.external_id!r} appears twice in the batch",
                    field=f"{prefix}external_id",
                )
            seen.add(item.external_id)


def _ingest(
    session: Session,
    *,
    principal: Principal,
    process_id: int,
    items: Sequence[ItemCreate],
    registry: AgentRegistry,
) -> list[ItemPublic]:
    process = get_process_for(session, principal, process_id, INGEST_ACTION)
    if process.archived_at is not None:
        raise Conflict(f"process {process_id} is archived and takes no new items")
    external_ids = [i.external_id for i in items if i.external_id is not None]
    stored = repo.by_external_ids(session, process.id, external_ids)
    new = [_new_item(process, i) for i in items if i.external_id not in stored]
    fresh = Lineage()
    if new:
        repo.add_items(session, new)
        fresh = _decide(session, process=process, items=new, registry=registry)
        record_event(
            session,
            actor=principal.actor,
            action="item.ingest",
            obj=new[0] if len(items) == 1 else ObjectRef("processes", str(process.id)),
            after={"items": [_summary(item) for item in new]},
        )
    added = iter(new)
    ordered = [stored[i.external_id] if i.external_id in stored else next(added) for i in items]
    return render_items(
        session,
        principal=principal,
        process=process,
        items=ordered,
        created={x.id for x in new},
        fresh=fresh,
    )


def _new_item(process: Process, data: ItemCreate) -> Item:
    key = f"{process.id}:{data.external_id or uuid.uuid4().hex}"
    return Item(
        process_id=process.id,
        external_id=data.external_id,
        text=data.text,
        fields=dict(data.fields),
        entity_key=data.entity_key,
        arm=routing.assign_arm(process.arms, key),
        status=ItemStatus.RECEIVED,
    )


def _decide(
    session: Session, *, process: Process, items: list[Item], registry: AgentRegistry
) -> Lineage:
    """Ask the agent (which also routes always-human rule matches), apply the mode, store
    decisions and statuses; return the new items' lineage (they have no reviews yet) so
    rendering needs no query."""
    decisions = decide_items(session, process=process, items=items, registry=registry)
    rows = decision_rows(session, process=process, items=items, decisions=decisions)
    now = utcnow()
    for row in rows:
        row.created_at = now
    session.add_all(rows)
    session.flush()
    statuses = [
        routing.initial_status(process.mode, d.route, i.arm)
        for i, d in zip(items, decisions, strict=True)
    ]
    repo.set_statuses(session, items, statuses, completed_at=now)
    events.publish_decided(session, process=process, items=items, decisions=decisions)
    enqueue_autosend(session, process=process, items=items, decisions=decisions)
    drift.enqueue_drift_check(session, process_id=process.id, now=now)
    numbers = {r.model_version_id: d.model_version for r, d in zip(rows, decisions, strict=True)}
    return Lineage(
        decisions={row.item_id: row for row in rows},
        numbers={k: v for k, v in numbers.items() if k is not None},
    )


def _summary(item: Item) -> dict[str, object]:
    return {"id": item.id, "external_id": item.external_id, "status": item.status.value}


def load_item_for(
    session: Session, *, principal: Principal, item_id: int, action: Action
) -> tuple[Item, Process]:
    """The item and its process if the principal may `action` it; NotFound when invisible."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"item {item_id} not found")
    try:
        process = get_process_for(session, principal, item.process_id, action)
    except NotFound:
        raise NotFound(f"item {item_id} not found") from None
    return item, process


def get_item(
    session: Session, *, principal: Principal, item_id: int, index: KnowledgeIndex
) -> ItemPublic:
    """An item with its full lineage: decision (model, threshold, evidence cases and passages)
    and reviews. Its evidence passages are found now if it never was shown before."""
    item, process = load_item_for(session, principal=principal, item_id=item_id, action=Action.READ)
    decision = repo.decisions_of(session, [item.id]).get(item.id)
    ensure_passages(session, process=process, item=item, decision=decision, index=index)
    [public] = render_items(session, principal=principal, process=process, items=[item])
    return public


def is_blind(process: Process, item: Item, decision: Decision | None) -> bool:
    """True when a reviewer must decide this item without seeing the agent's suggestion."""
    if decision is None or decision.label is None:
        return True
    return routing.served_blind(process.mode, decision.route, item.arm)


@dataclass(frozen=True, slots=True)
class Lineage:
    """What rendering items needs besides the items: their latest decisions, reviews, which
    were escalated, and model version numbers by row id."""

    decisions: dict[int, Decision] = field(default_factory=dict)
    reviews: dict[int, list[Review]] = field(default_factory=dict)
    escalated: set[int] = field(default_factory=set)
    numbers: dict[int, int] = field(default_factory=dict)
    sent_drafts: dict[int, StoredDraft] = field(default_factory=dict)


def _lineage(session: Session, items: Sequence[Item], fresh: Lineage) -> Lineage:
    """The lineage of `items`, read from the database except for those in `fresh`."""
    ids = [item.id for item in items if item.id not in fresh.decisions]
    if not ids:
        return fresh
    decisions = repo.decisions_of(session, ids)
    version_ids = {d.model_version_id for d in decisions.values() if d.model_version_id}
    return Lineage(
        decisions={**fresh.decisions, **decisions},
        reviews={**fresh.reviews, **repo.reviews_of(session, ids)},
        escalated=fresh.escalated | repo.escalated_ids(session, ids),
        numbers={**fresh.numbers, **repo.model_version_numbers(session, version_ids)},
        sent_drafts={**fresh.sent_drafts, **repo.sent_drafts_of(session, ids)},
    )


def render_items(
    session: Session,
    *,
    principal: Principal,
    process: Process,
    items: Sequence[Item],
    created: set[int] | None = None,
    fresh: Lineage | None = None,
) -> list[ItemPublic]:
    """Items as the API shows them to this principal, with decisions and reviews; `fresh` is
    the lineage of items stored by this request, which is not read back."""
    lineage = _lineage(session, items, fresh or Lineage())
    sees_all = can(principal, Action.READ_AUDIT, process.department_id)
    out = []
    for item in items:
        decision = lineage.decisions.get(item.id)
        open_ = item.status in (ItemStatus.QUEUED, ItemStatus.CLAIMED)
        hidden = open_ and not sees_all and is_blind(process, item, decision)
        out.append(
            _public(
                item,
                decision,
                lineage.reviews.get(item.id, []),
                hidden=hidden,
                numbers=lineage.numbers,
                created=item.id in (created or set()),
                escalated=item.id in lineage.escalated,
                sent_draft=lineage.sent_drafts.get(item.id),
            )
        )
    return out


def _public(
    item: Item,
    decision: Decision | None,
    reviews: list[Review],
    *,
    hidden: bool,
    numbers: dict[int, int],
    created: bool,
    escalated: bool,
    sent_draft: StoredDraft | None = None,
) -> ItemPublic:
    """The item as shown; a `hidden` decision (blind and open) keeps only its passages."""
    shown = None if hidden or decision is None else decision_public(decision, numbers)
    return ItemPublic(
        id=item.id,
        process_id=item.process_id,
        external_id=item.external_id,
        text=item.text,
        fields=item.fields,
        entity_key=item.entity_key,
        arm=item.arm,
        status=item.status,
        escalated=escalated,
        created=created,
        lease_owner=item.lease_owner,
        lease_expires_at=item.lease_expires_at,
        created_at=item.created_at,
        completed_at=item.completed_at,
        decision=shown,
        reviews=[ReviewPublic.model_validate(r) for r in reviews],
        evidence_passages=passages_public(decision),
        passages_retrieved_at=decision.passages_retrieved_at if decision else None,
        sent_draft=SentDraftPublic.model_validate(sent_draft) if sent_draft else None,
    )


def decision_public(decision: Decision, numbers: dict[int, int]) -> DecisionPublic:
    """A stored decision as the API shows it."""
    version = numbers.get(decision.model_version_id, 0) if decision.model_version_id else 0
    return DecisionPublic(
        id=decision.id,
        model_version_id=decision.model_version_id,
        model_version=version,
        threshold=decision.threshold,
        label=decision.label,
        confidence=decision.confidence,
        alternatives=decision.alternatives,
        evidence=decision.evidence,
        route=decision.route,
        reason=route_reason(
            decision.reason_code, decision.reason_params, stored=decision.legacy_reason
        ),
        reason_code=decision.reason_code,
        reason_params=decision.reason_params,
        created_at=decision.created_at,
    )
