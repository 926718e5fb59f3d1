"""The history pages of a process: upload a file, map its columns with a preview of its first
rows, import it, read the summary; and the label-audit queue (confirm or correct, retrain).

The upload is two steps without JavaScript: the file is kept on the server under a random
token while its columns are mapped (deleted after the import, or after a day), then imported
synchronously in the request that submits the mapping; the page shows a progress bar while the
browser waits (history.js) and answers with the summary.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from deshi.db import transaction
from deshi.domain import FlagStatus
from deshi.errors import DeshiError, ValidationFailed
from deshi.history import audit, golive, service
from deshi.history.models import FlagResolve
from deshi.history.reader import ColumnMap, detect_format, mapped_rows, open_table, preview
from deshi.permissions import Action
from deshi.processes.label_names import namer
from deshi.processes.service import get_process_for
from deshi.web.deps import FactoryDep, RegistryDep, SessionDep
from deshi.web.params import PathId
from deshi.web.ui.deps import CsrfDep, FormDep, Viewer, ViewerDep, render

__all__ = ["UPLOADS", "router"]

router = APIRouter(include_in_schema=False)

UPLOADS = Path(tempfile.gettempdir()) / "deshi-history-uploads"
_TOKEN = re.compile(r"^[0-9a-f]{32}\.(csv|tsv|tab|jsonl|ndjson|xlsx)$")
_KEEP_SECONDS = 24 * 3600
PREVIEW_ROWS = 5


async def _field_columns(request: Request) -> list[str]:
    """The form's structured-field columns (a multiple select: FormDep keeps one value)."""
    return [v for v in (await request.form()).getlist("field_col") if isinstance(v, str) and v]


FieldColumnsDep = Annotated[list[str], Depends(_field_columns)]


def _page(
    request: Request, viewer: Viewer, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request, template, locale=viewer.locale, viewer=viewer, status_code=status_code, **context
    )


def _history_page(
    request: Request,
    viewer: Viewer,
    db: Session,
    process_id: int,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    process = get_process_for(db, viewer.principal, process_id, Action.MANAGE_PROCESS)
    state = service.history_state(db, process)
    return _page(
        request, viewer, "history/index.html", status_code, process=process, state=state, **context
    )


@router.get("/admin/processes/{process_id}/history", response_class=HTMLResponse)
def history_page(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep
) -> Response:
    """The process's history: what was imported, the label audit, and the upload form."""
    return _history_page(request, viewer, db, process_id)


@router.post("/admin/processes/{process_id}/history/preview", dependencies=[CsrfDep])
def preview_upload(
    process_id: PathId,
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    file: Annotated[UploadFile, File()],
) -> Response:
    """Keep the uploaded file and show its columns and first rows for the mapping."""
    try:
        process = get_process_for(db, viewer.principal, process_id, Action.MANAGE_PROCESS)
        name = Path(file.filename or "").name
        fmt = detect_format(name)
        token = _keep(file, Path(name).suffix.lower())
        with (UPLOADS / token).open("rb") as stream:
            table = open_table(stream, fmt)
            rows = preview(table, PREVIEW_ROWS)
    except DeshiError as exc:
        return _history_page(request, viewer, db, process_id, exc.status_code, error=exc.detail)
    return _page(
        request,
        viewer,
        "history/map.html",
        process=process,
        token=token,
        filename=name,
        columns=[c for c in table.columns if c],
        encoding=table.encoding,
        rows=rows,
        guess=_guess(table.columns),
    )


def _keep(upload: UploadFile, suffix: str) -> str:
    """Store an upload under a random token; older uploads are removed on the way."""
    UPLOADS.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - _KEEP_SECONDS
    for old in UPLOADS.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = f"{secrets.token_hex(16)}{suffix}"
    with (UPLOADS / token).open("wb") as target:
        shutil.copyfileobj(upload.file, target)
    return token


def _guess(columns: list[str]) -> dict[str, str]:
    """Columns whose names say what they hold, preselected in the mapping."""
    lowered = {c.lower(): c for c in columns}
    wanted = {
        "text": ("text", "body", "description", "subject", "本文", "内容", "テキスト"),
        "label": ("label", "category", "class", "intent", "ラベル", "分類", "カテゴリ"),
        "id": ("id", "external_id", "ticket", "ticket_id", "case_id", "番号", "チケット番号"),
        "time": ("time", "created_at", "date", "closed_at", "日時", "日付"),
    }
    return {
        role: next((lowered[n] for n in names if n in lowered), "")
        for role, names in wanted.items()
    }


@router.post("/admin/processes/{process_id}/history/import", dependencies=[CsrfDep])
def import_upload(
    process_id: PathId,
    request: Request,
    viewer: ViewerDep,
    factory: FactoryDep,
    registry: RegistryDep,
    form: FormDep,
    field_columns: FieldColumnsDep,
) -> Response:
    """Import the kept file with the chosen mapping and show the summary."""
    token = form.get("token", "")
    if not _TOKEN.match(token) or not (UPLOADS / token).is_file():
        with transaction(factory) as db:
            message = ValidationFailed("the uploaded file is gone: upload it again")
            return _history_page(request, viewer, db, process_id, 422, error=message.detail)
    path = UPLOADS / token
    try:
        mapping = ColumnMap(
            text=form.get("text_col", ""),
            label=form.get("label_col", ""),
            id=form.get("id_col") or None,
            time=form.get("time_col") or None,
            fields=tuple(field_columns),
            handling=form.get("handling_col") or None,
        )
        with path.open("rb") as stream:
            table = open_table(stream, detect_format(path.name))
            summary = service.import_history_for(
                factory,
                principal=viewer.principal,
                process_id=process_id,
                rows=mapped_rows(table, mapping),
                registry=registry,
                source=form.get("filename", "")[:300] or path.name,
                table=table,
                add_labels=form.get("add_labels") == "1",
            )
    except DeshiError as exc:
        with transaction(factory) as db:
            return _history_page(request, viewer, db, process_id, exc.status_code, error=exc.detail)
    path.unlink(missing_ok=True)
    with transaction(factory) as db:
        process = get_process_for(db, viewer.principal, process_id, Action.MANAGE_PROCESS)
        return _page(request, viewer, "history/summary.html", process=process, summary=summary)


@router.get("/admin/processes/{process_id}/history/audit", response_class=HTMLResponse)
def audit_page(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, done: str = ""
) -> Response:
    """The label-audit queue: the history rows whose label looks wrong, most suspicious first."""
    return _audit_page(request, viewer, db, process_id, notice=done)


def _audit_page(
    request: Request,
    viewer: Viewer,
    db: Session,
    process_id: int,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    process = get_process_for(db, viewer.principal, process_id, Action.MANAGE_PROCESS)
    return _page(
        request,
        viewer,
        "history/audit.html",
        status_code,
        process=process,
        state=service.history_state(db, process),
        flags=audit.list_flags(db, process_id, status=FlagStatus.OPEN, limit=200),
        label_name=namer(process.label_names, viewer.locale),
        **context,
    )


@router.post("/admin/processes/{process_id}/history/flags/{flag_id}", dependencies=[CsrfDep])
def resolve_flag(
    process_id: PathId,
    flag_id: PathId,
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    form: FormDep,
) -> Response:
    """Confirm or correct one flagged label and go back to the queue."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            answer = FlagResolve(
                action="correct" if form.get("action") == "correct" else "confirm",
                label=form.get("label") or None,
            )
            audit.resolve_flag_for(
                db,
                principal=viewer.principal,
                process_id=process_id,
                flag_id=flag_id,
                answer=answer,
            )
    except DeshiError as exc:
        return _audit_page(request, viewer, db, process_id, exc.status_code, error=exc.detail)
    return RedirectResponse(f"/admin/processes/{process_id}/history/audit", status_code=303)


@router.post("/admin/processes/{process_id}/history/retrain", dependencies=[CsrfDep])
def retrain(
    process_id: PathId,
    request: Request,
    viewer: ViewerDep,
    factory: FactoryDep,
    registry: RegistryDep,
) -> Response:
    """Retrain on the corrected history and go back to the queue."""
    try:
        audit.retrain_after_audit_for(
            factory, principal=viewer.principal, process_id=process_id, registry=registry
        )
    except DeshiError as exc:
        with transaction(factory) as db:
            return _audit_page(request, viewer, db, process_id, exc.status_code, error=exc.detail)
    return RedirectResponse(
        f"/admin/processes/{process_id}/history/audit?done=retrained", status_code=303
    )


@router.post("/admin/processes/{process_id}/go-live", dependencies=[CsrfDep])
def request_go_live(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, form: FormDep
) -> Response:
    """Queue a go-live check for the worker and go back to the page the form was on (the
    dashboard or the settings)."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            golive.request_golive_for(db, principal=viewer.principal, process_id=process_id)
    except DeshiError as exc:
        return _history_page(request, viewer, db, process_id, exc.status_code, error=exc.detail)
    pages = (f"/processes/{process_id}", f"/ui/processes/{process_id}")
    back = form.get("back", "")
    return RedirectResponse(
        back if back in pages else f"/admin/processes/{process_id}", status_code=303
    )
