"""The Knowledge pages: a department's documents (list, upload, search, remove) and a document's
page, whose passages carry anchors (`#p-{id}`) that search results and citations link to.

Each form calls the same service function as the API, which checks the viewer's permission:
documents of a department the viewer cannot see are 404, like processes.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from deshi.errors import DeshiError, NotFound
from deshi.inputs import MAX_ID
from deshi.knowledge import search_for
from deshi.knowledge import service as knowledge
from deshi.knowledge.models import MAX_QUERY_CHARS, MAX_TOP_K
from deshi.knowledge.parse import MEDIA_TYPES
from deshi.permissions import Action, can
from deshi.processes.service import list_departments_for
from deshi.web.api.knowledge import KnowledgeDep, read_upload, source_response
from deshi.web.deps import SessionDep
from deshi.web.params import PathId
from deshi.web.ui.deps import CsrfDep, Viewer, ViewerDep, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

DepartmentParam = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _knowledge_page(
    request: Request,
    viewer: Viewer,
    db: Session,
    index: KnowledgeDep,
    department_id: int | None,
    status_code: int = 200,
    query: str = "",
    top: int = 5,
    **context: Any,
) -> HTMLResponse:
    """The department's documents, the upload form where allowed and the search results."""
    departments = list_departments_for(db, principal=viewer.principal)
    if department_id is None and departments:
        department_id = departments[0].id
    if department_id is not None and department_id not in {d.id for d in departments}:
        raise NotFound(f"department {department_id} not found")
    documents = []
    hits = None
    if department_id is not None:
        documents = knowledge.list_documents_for(
            db, principal=viewer.principal, department_id=department_id
        )
        if query.strip():
            hits = search_for(
                db,
                principal=viewer.principal,
                department_id=department_id,
                query=query[:MAX_QUERY_CHARS],
                top_k=top,
                index=index,
            )
    may_manage = department_id is not None and can(
        viewer.principal, Action.MANAGE_PROCESS, department_id
    )
    return render(
        request,
        "knowledge/index.html",
        locale=viewer.locale,
        viewer=viewer,
        status_code=status_code,
        departments=departments,
        department_id=department_id,
        documents=documents,
        may_manage=may_manage,
        query=query,
        top=top,
        hits=hits,
        accept=",".join(sorted(MEDIA_TYPES)),
        **context,
    )


@router.get("/knowledge", response_class=HTMLResponse)
def knowledge_page(
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    index: KnowledgeDep,
    department_id: DepartmentParam = None,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
    top: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 5,
    stored: Annotated[str, Query(max_length=300)] = "",
    removed: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    """Knowledge: a department's documents, upload and search."""
    return _knowledge_page(
        request,
        viewer,
        db,
        index,
        department_id,
        query=q,
        top=top,
        stored=stored,
        removed=removed,
    )


@router.post("/knowledge/upload", dependencies=[CsrfDep])
def upload(
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    index: KnowledgeDep,
    department_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    file: Annotated[UploadFile, File()],
) -> Response:
    """Store an uploaded file; a refusal re-renders the page with its reason."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            name, content = read_upload(file)
            outcome = knowledge.store_document_for(
                db,
                principal=viewer.principal,
                department_id=department_id,
                name=name,
                content=content,
                index=index,
            )
    except NotFound:
        raise
    except DeshiError as exc:
        return _knowledge_page(
            request, viewer, db, index, department_id, exc.status_code, error=exc.detail
        )
    query = {"department_id": department_id, "stored": outcome.document.name}
    return RedirectResponse(f"/knowledge?{urlencode(query)}", status_code=303)


@router.get("/knowledge/docs/{document_id}", response_class=HTMLResponse)
def document_page(
    document_id: PathId,
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """A document's version with its passages, each anchored (`#p-{id}`)."""
    document = knowledge.get_document_for(db, viewer.principal, document_id)
    detail = knowledge.document_detail(db, document, version)
    return render(
        request,
        "knowledge/document.html",
        locale=viewer.locale,
        viewer=viewer,
        document=detail,
        may_manage=can(viewer.principal, Action.MANAGE_PROCESS, document.department_id),
    )


@router.get("/knowledge/docs/{document_id}/versions/{version}/source")
def document_source(
    document_id: PathId, version: PathId, viewer: ViewerDep, db: SessionDep
) -> Response:
    """The file of a version as uploaded (a PDF opens in the browser, at `#page=N`)."""
    document = knowledge.get_document_for(db, viewer.principal, document_id)
    found = knowledge.source_of(db, document, version)
    return source_response(document.name, found.media_type, found.source)


@router.post("/knowledge/docs/{document_id}/remove", dependencies=[CsrfDep])
def remove(document_id: PathId, viewer: ViewerDep, db: SessionDep) -> Response:
    """Remove a document from lists and search (its versions stay)."""
    document = knowledge.get_document_for(db, viewer.principal, document_id)
    knowledge.remove_document_for(db, principal=viewer.principal, document_id=document_id)
    query = {"department_id": document.department_id, "removed": document.name}
    return RedirectResponse(f"/knowledge?{urlencode(query)}", status_code=303)
