"""The audit log pages: the filtered log with names, links and what changed, its export with a
proof, and the signed head to download.

The route parses the filter form, calls the audit services (the same as `GET /audit/events`
and `GET /audit/export`) and renders; the words (action and object names, actors that are not
people) are translated here, the links depend on what the viewer may open. Times are shown in
UTC, labelled so. The chain is verified incrementally, read-only, and the verified prefix is
remembered afterwards in its own short transaction (`deshi.audit.checkpoint`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from deshi.audit import (
    EventFilter,
    Names,
    audit_departments,
    export_events,
    keyring_of,
    names_for,
    page_events,
    sign_head_for,
    verify_and_remember,
)
from deshi.audit.changes import Changes, changes
from deshi.audit.export import MEDIA_TYPES, ExportFormat
from deshi.audit.names import actor_name, actor_user, object_name, object_process
from deshi.db.tables import AuditEvent
from deshi.errors import ValidationFailed
from deshi.i18n import translations
from deshi.inputs import validated
from deshi.permissions import Principal
from deshi.web.deps import FactoryDep
from deshi.web.params import QueryId
from deshi.web.ui.deps import ViewerDep, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)  # outside the API: errors are pages (web.errors)

PAGE_SIZE = 50
_TEXT_FIELDS = ("actor", "action", "object_type", "object_id", "q")
_VALUE_CHARS = 300  # a changed value longer than this is cut on the page (the export has it all)


def page_filters(params: Mapping[str, str]) -> EventFilter:
    """The filter form's fields as an EventFilter: empty fields are no filter; `from` and `to`
    are days in UTC, both included. ValidationFailed names a field that is not valid."""
    fields: dict[str, Any] = {
        k: params[k].strip() for k in _TEXT_FIELDS if params.get(k, "").strip()
    }
    for name, key, shift in (("from", "since", 0), ("to", "until", 1)):
        text = params.get(name, "").strip()
        if text:
            try:
                day = date.fromisoformat(text) + timedelta(days=shift)
            except (ValueError, OverflowError):
                raise ValidationFailed(f"{name}: not a date (YYYY-MM-DD)", field=name) from None
            fields[key] = datetime.combine(day, time(), tzinfo=UTC)
    return validated(EventFilter, fields)


def _form_values(params: Mapping[str, str]) -> dict[str, str]:
    """The filter form's non-empty fields, to carry into page and export links."""
    names = (*_TEXT_FIELDS, "from", "to")
    return {k: params[k].strip() for k in names if params.get(k, "").strip()}


def _link(path: str, values: Mapping[str, str], **extra: int) -> str:
    query = urlencode({**values, **{k: str(v) for k, v in extra.items()}})
    return f"{path}?{query}" if query else path


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event as the page shows it."""

    seq: int
    at_iso: str  # machine-readable, for <time datetime>
    at_text: str  # "2026-12-05 05:40:12 UTC"
    actor: str
    actor_label: str
    actor_href: str | None
    action: str
    action_label: str
    object_kind: str
    object_label: str
    object_href: str | None
    changes: Changes
    hash: str


def _words(locale: str) -> tuple[dict[str, str], dict[str, str]]:
    """(action → words, object type → words) in the page's language."""
    _ = translations(locale).gettext
    actions = {
        "item.ingest": _("item received and decided"),
        "item.claim": _("item claimed for review"),
        "item.release": _("item released back to the queue"),
        "item.review": _("item reviewed"),
        "review.undo": _("answer undone by its reviewer"),
        "process.create": _("process created"),
        "process.update": _("process changed"),
        "process.archive": _("process archived"),
        "process.labels_added": _("labels added"),
        "process.label_names": _("label names changed"),
        "department.create": _("department created"),
        "department.rename": _("department renamed"),
        "department.archive": _("department archived"),
        "user.create": _("user created"),
        "user.update": _("user changed"),
        "user.deactivate": _("user deactivated"),
        "user.reset_password": _("password reset"),
        "role.grant": _("role granted"),
        "role.revoke": _("role revoked"),
        "api_token.create": _("API token issued"),
        "api_token.revoke": _("API token revoked"),
        "model.retrain": _("model retrained"),
        "model.rollback": _("model rolled back"),
        "webhook.create": _("webhook added"),
        "webhook.delete": _("webhook removed"),
        "inventory.create": _("inventory candidate added"),
        "inventory.delete": _("inventory candidate removed"),
        "knowledge.create": _("knowledge document added"),
        "knowledge.update": _("knowledge document updated"),
        "knowledge.remove": _("knowledge document removed"),
    }
    kinds = {
        "items": _("Item"),
        "reviews": _("Review"),
        "processes": _("Process"),
        "model_versions": _("Model version"),
        "webhooks": _("Webhook"),
        "departments": _("Department"),
        "users": _("User"),
        "role_grants": _("Role"),
        "api_tokens": _("API token"),
        "inventory_candidates": _("Inventory candidate"),
        "knowledge_documents": _("Knowledge document"),
    }
    return actions, kinds


def _actor_label(actor: str, names: Names, locale: str) -> str:
    """A person's name; the command line and the system in words."""
    _ = translations(locale).gettext
    kind, _sep, rest = actor.partition(":")
    if kind == "cli" and rest:
        return _("%(name)s (command line)") % {"name": rest}
    if kind == "system":
        return _("the system (%(task)s)") % {"task": rest or "?"}
    return actor_name(actor, names)


def _object_href(event: AuditEvent, names: Names, principal: Principal) -> str | None:
    """Where the event's object can be opened by this viewer, if anywhere.

    Work objects open in their process (the viewer reads its department's log, so they may read
    it); users, roles, tokens and departments open on the Administration pages, which only a
    workspace admin sees."""
    key = event.object_id
    if event.object_type == "items" and key.isdigit():
        return f"/items/{key}"
    if event.object_type == "reviews" and key.isdigit() and int(key) in names.review_items:
        return f"/items/{names.review_items[int(key)]}"
    if event.object_type == "knowledge_documents" and key.isdigit():
        return f"/knowledge/docs/{key}"
    process = object_process(event, names)
    if process is not None and process in names.processes:
        return f"/processes/{process}"
    if not principal.is_workspace_admin:
        return None
    return {
        "users": "/admin/users",
        "role_grants": "/admin/users",
        "api_tokens": "/admin/tokens",
        "departments": "/admin/departments",
    }.get(event.object_type)


def _cut(change_set: Changes) -> Changes:
    """Long values shortened for the page."""

    def cut(value: str | None) -> str | None:
        return value if value is None or len(value) <= _VALUE_CHARS else value[:_VALUE_CHARS] + "…"

    fields = tuple(type(c)(c.field, cut(c.before), cut(c.after)) for c in change_set.fields)
    return Changes(fields, change_set.unchanged)


def event_rows(
    events: list[AuditEvent], names: Names, principal: Principal, locale: str
) -> list[EventRow]:
    """The page's rows: names, words and links for the viewer."""
    actions, kinds = _words(locale)
    admin = principal.is_workspace_admin
    rows = []
    for e in events:
        user = actor_user(e.actor)
        utc = e.at.astimezone(UTC)
        rows.append(
            EventRow(
                seq=e.seq,
                at_iso=utc.isoformat(),
                at_text=utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
                actor=e.actor,
                actor_label=_actor_label(e.actor, names, locale),
                actor_href="/admin/users" if admin and user is not None else None,
                action=e.action,
                action_label=actions.get(e.action, e.action),
                object_kind=kinds.get(e.object_type, e.object_type),
                object_label=object_name(e, names),
                object_href=_object_href(e, names, principal),
                changes=_cut(changes(e.before, e.after)),
                hash=e.hash,
            )
        )
    return rows


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    viewer: ViewerDep,
    factory: FactoryDep,
    before: QueryId = None,
    after: QueryId = None,
) -> Response:
    """The audit events of the viewer's departments (every event for a workspace admin) that
    match the filters, 50 a page by keyset on seq, and whether the hash chain verifies."""
    departments = audit_departments(viewer.principal)
    params = dict(request.query_params)
    filters = page_filters(params)
    with factory() as db:
        page = page_events(
            db, departments=departments, filters=filters, before=before, after=after,
            limit=PAGE_SIZE,
        )  # fmt: skip
        rows = event_rows(page.events, names_for(db, page.events), viewer.principal, viewer.locale)
        keyed = keyring_of(db).current is not None
    chain = verify_and_remember(factory)  # hashes only the events after the verified prefix
    values = _form_values(params)
    actions, kinds = _words(viewer.locale)
    return render(
        request, "audit.html", locale=viewer.locale, viewer=viewer, events=rows,
        scoped=departments is not None, chain=chain, can_anchor=keyed and chain.ok,
        form=values, filtered=not filters.is_empty(), actions=actions, kinds=kinds,
        older=_link("/audit", values, before=page.older) if page.older else None,
        newer=_link("/audit", values, after=page.newer) if page.newer else None,
        newest=_link("/audit", values) if before or after else None,
        exports={fmt: _link(f"/audit/export.{fmt}", values) for fmt in MEDIA_TYPES},
    )  # fmt: skip


@router.get("/audit/export.{fmt}")
def audit_export(
    fmt: ExportFormat, request: Request, viewer: ViewerDep, factory: FactoryDep
) -> Response:
    """The filtered events as a CSV or JSONL file with its proof (what GET /audit/export
    streams), for `deshi audit verify-export FILE`."""
    departments = audit_departments(viewer.principal)
    filters = page_filters(dict(request.query_params))
    chunks = export_events(factory, departments=departments, filters=filters, fmt=fmt)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "Content-Disposition": f'attachment; filename="deshi-audit-{stamp}.{fmt}"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/audit/anchor.json")
def audit_anchor(viewer: ViewerDep, factory: FactoryDep) -> Response:
    """The audit log's signed head as an anchor file to download (what GET /audit/head
    answers), for `deshi audit verify --anchor FILE`."""
    with factory() as db:
        anchor = sign_head_for(db, viewer.principal)
    download = f'attachment; filename="deshi-audit-anchor-{anchor.seq}.json"'
    headers = {"Content-Disposition": download, "Cache-Control": "no-store"}
    return JSONResponse(anchor.to_json(), headers=headers)
