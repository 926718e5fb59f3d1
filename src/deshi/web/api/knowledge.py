"""Knowledge-base routes: list, upload, read, open a passage or the original file, search,
remove. Documents are visible to the roles of their department only (404 elsewhere)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status

from deshi.errors import PayloadTooLarge
from deshi.inputs import MAX_ID
from deshi.knowledge import KnowledgeIndex, search_for
from deshi.knowledge import service as knowledge
from deshi.knowledge.models import (
    DocumentDetail,
    DocumentPublic,
    KnowledgeSearch,
    PassagePublic,
    SearchHit,
    StoreOutcome,
)
from deshi.knowledge.service import MAX_DOCUMENT_BYTES
from deshi.web.deps import PrincipalDep, SessionDep
from deshi.web.params import PathId, QueryId

__all__ = ["KnowledgeDep", "read_upload", "router", "source_response"]

router = APIRouter(prefix="/knowledge", tags=["knowledge"])

_CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}


def get_knowledge_index(request: Request) -> KnowledgeIndex:
    """The app's knowledge index (its embedder and vector cache: `app.state.knowledge`)."""
    index: KnowledgeIndex = request.app.state.knowledge
    return index


KnowledgeDep = Annotated[KnowledgeIndex, Depends(get_knowledge_index)]


def read_upload(file: UploadFile) -> tuple[str, bytes]:
    """An uploaded file's base name and bytes, refusing more than a document may have."""
    content = file.file.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(f"a document may have at most {MAX_DOCUMENT_BYTES} bytes")
    name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return name, content


def source_response(name: str, media_type: str, content: bytes) -> Response:
    """The original file: a PDF opens in the browser (at `#page=N`); anything else downloads,
    sandboxed, so an uploaded HTML page never runs as this site."""
    disposition = "inline" if media_type == "pdf" else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name.rsplit('/', 1)[-1])}",
        "X-Content-Type-Options": "nosniff",
    }
    if media_type != "pdf":
        headers["Content-Security-Policy"] = "sandbox"
    return Response(content, media_type=_CONTENT_TYPES[media_type], headers=headers)


@router.get("/documents", response_model=list[DocumentPublic])
def list_documents(
    session: SessionDep,
    principal: PrincipalDep,
    department_id: QueryId = None,
    include_removed: bool = False,
) -> object:
    """Documents of the departments you can see (or of one), by department and name."""
    return knowledge.list_documents_for(
        session, principal=principal, department_id=department_id, include_removed=include_removed
    )


@router.post(
    "/documents",
    response_model=StoreOutcome,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": StoreOutcome, "description": "The same bytes as the current version."},
        404: {"description": "No such department, or one you cannot see."},
    },
)
def upload_document(
    session: SessionDep,
    principal: PrincipalDep,
    index: KnowledgeDep,
    response: Response,
    department_id: Annotated[int, Form(ge=1, le=MAX_ID, description="The department.")],
    file: Annotated[
        UploadFile, File(description="PDF, DOCX, HTML, Markdown or plain text, ≤ 20 MiB.")
    ],
) -> object:
    """Upload a document to a department you manage. A file of the same name becomes the
    document's new current version (older versions stay, for lineage); the same bytes again
    change nothing (200)."""
    name, content = read_upload(file)
    outcome = knowledge.store_document_for(
        session,
        principal=principal,
        department_id=department_id,
        name=name,
        content=content,
        index=index,
    )
    if not outcome.changed:
        response.status_code = status.HTTP_200_OK
    return outcome


@router.get("/documents/{document_id}", response_model=DocumentDetail)
def get_document(
    document_id: PathId,
    session: SessionDep,
    principal: PrincipalDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> object:
    """A document, its versions and the passages of one version (default: the current one)."""
    document = knowledge.get_document_for(session, principal, document_id)
    return knowledge.document_detail(session, document, version)


@router.get(
    "/documents/{document_id}/versions/{version}/source",
    response_class=Response,
    responses={200: {"content": {mt: {} for mt in _CONTENT_TYPES.values()}}},
)
def get_source(
    document_id: PathId, version: PathId, session: SessionDep, principal: PrincipalDep
) -> Response:
    """The file of a version as it was uploaded; a PDF opens at a passage's `#page=N`."""
    document = knowledge.get_document_for(session, principal, document_id)
    found = knowledge.source_of(session, document, version)
    return source_response(document.name, found.media_type, found.source)


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_document(document_id: PathId, session: SessionDep, principal: PrincipalDep) -> None:
    """Remove a document from lists and search; its versions stay, for lineage."""
    knowledge.remove_document_for(session, principal=principal, document_id=document_id)


@router.get("/passages/{passage_id}", response_model=PassagePublic)
def get_passage(passage_id: PathId, session: SessionDep, principal: PrincipalDep) -> object:
    """A passage (of any version) with `url`, the document's page anchored at it, and
    `source_url`, the original file (at its page for a PDF)."""
    return knowledge.get_passage_for(session, principal, passage_id)


@router.post(
    "/search",
    response_model=list[SearchHit],
    responses={404: {"description": "No such department, or one you cannot see."}},
)
def search(
    body: KnowledgeSearch, session: SessionDep, principal: PrincipalDep, index: KnowledgeDep
) -> object:
    """Search a department's current passages, best first: full-text ranking over Sudachi
    words and multilingual embeddings fused by reciprocal rank (or one of them: `mode`)."""
    return search_for(
        session,
        principal=principal,
        department_id=body.department_id,
        query=body.query,
        top_k=body.top_k,
        mode=body.mode,
        index=index,
    )
