"""Audit routes: the filtered log, its export with a proof, and the signed head to anchor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from deshi.audit import (
    EventFilter,
    EventPageQuery,
    ExportQuery,
    audit_departments,
    export_events,
    names_for,
    page_events,
    sign_head_for,
)
from deshi.audit.export import MEDIA_TYPES
from deshi.audit.models import AuditAnchorPublic, AuditEventPage, AuditEventPublic
from deshi.web.deps import FactoryDep, PrincipalDep

router = APIRouter(prefix="/audit", tags=["audit"])

_PROBLEM = "application/problem+json"
_FORBIDDEN = {
    "description": "The caller may read no department's audit log.",
    "content": {_PROBLEM: {}},
}
_INVALID = {"description": "A filter is not valid.", "content": {_PROBLEM: {}}}


@router.get("/events", response_model=AuditEventPage, responses={403: _FORBIDDEN, 422: _INVALID})
def audit_events(
    factory: FactoryDep, principal: PrincipalDep, query: Annotated[EventPageQuery, Query()]
) -> AuditEventPage:
    """The audit events you may read (your departments'; every one for a workspace admin) that
    match the filters, newest first, a page at a time.

    Pages are keyset pages on `seq`: pass `older` as `before` for the next page, `newer` as
    `after` for the previous one. Nothing counts the log, so a page is as fast at the end of a
    long log as at its start. People are named (`actor_name`) and objects too (`object_name`);
    `before` / `after` are the object as it was and as it became. Times are UTC."""
    departments = audit_departments(principal)
    with factory() as session:
        page = page_events(
            session, departments=departments, filters=query, before=query.before,
            after=query.after, limit=query.limit,
        )  # fmt: skip
        names = names_for(session, page.events)
        events = [AuditEventPublic.of(e, names) for e in page.events]
    return AuditEventPage(events=events, older=page.older, newer=page.newer)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The matching events, oldest first, then the proof record (see "
            "docs/service.md, 'Exporting the audit log'). Check it with "
            "`deshi audit verify-export FILE`.",
            "content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["jsonl"]: {}},
        },
        403: _FORBIDDEN,
        422: _INVALID,
    },
)
def audit_export(
    factory: FactoryDep, principal: PrincipalDep, query: Annotated[ExportQuery, Query()]
) -> StreamingResponse:
    """Export the audit events you may read that match the filters, as CSV or JSONL, streamed,
    ending with a proof: the range's first and last seq, the hash of the event before it and
    of its last event, the count, a digest of the events and a seal (HMAC) under the audit key.

    `deshi audit verify-export FILE` recomputes each event's hash (keyed ones need the audit
    key), the links between neighbours, the digest and the seal; with `--db`, also that the log
    still holds these events and that the filters select exactly them. Read-only: no write lock
    is held while it streams."""
    departments = audit_departments(principal)
    filters = EventFilter.model_validate(query.model_dump(exclude={"format"}, exclude_none=True))
    chunks = export_events(factory, departments=departments, filters=filters, fmt=query.format)
    name = f"deshi-audit-export.{query.format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[query.format], headers=headers)


@router.get(
    "/head",
    response_model=AuditAnchorPublic,
    responses={
        403: _FORBIDDEN,
        500: {
            "description": "`integrity_error`: the chain is broken; no head is signed.",
            "content": {_PROBLEM: {}},
        },
        503: {
            "description": "`unavailable`: no audit key is configured (DESHI_AUDIT_KEY).",
            "content": {_PROBLEM: {}},
        },
    },
)
def audit_head(factory: FactoryDep, principal: PrincipalDep) -> AuditAnchorPublic:
    """Verify the chain and return its head signed with the audit key: an anchor.

    Only the events after the remembered verified prefix are hashed (the prefix was verified by
    an earlier check and is pinned by this anchor's hash); `deshi audit verify` checks them all.

    For auditors, owners and admins. Keep the body elsewhere; `deshi audit verify --anchor`
    later proves the log was neither cut short nor rewritten up to it. It reads the log in a
    read-only transaction, so it holds no write lock while it hashes the chain.
    """
    with factory() as session:
        return AuditAnchorPublic.of(sign_head_for(session, principal))
