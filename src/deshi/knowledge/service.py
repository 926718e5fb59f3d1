"""Knowledge-base use cases: store (upload or sync), list, read, open a passage, remove.

A document is known by its name within its department. Storing bytes that differ from the
current version's adds a version and makes it current; its older passages leave search but
stay, so what cited them keeps its lineage. Storing the same bytes again changes nothing and
records nothing. Removing a document takes it out of lists and search; storing its name again
brings it back as a new version.

Functions taking a `principal` check permissions (reading needs `read` in the document's
department, storing and removing `manage_process`; a department the principal cannot see is
NotFound, like processes); the ones taking an `actor` serve operators who hold the database (the
CLI) and check nothing. Every change is audited (`knowledge.create`, `knowledge.update`,
`knowledge.remove`, filed under the document's department).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import record_event, snapshot
from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import KnowledgeDocument, KnowledgePassage, KnowledgeVersion
from deshi.engine.japanese import contains_japanese
from deshi.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from deshi.knowledge import lexical, repo
from deshi.knowledge.chunk import Chunk, chunk_blocks
from deshi.knowledge.links import passage_url, source_url
from deshi.knowledge.models import (
    DocumentDetail,
    DocumentPublic,
    PassagePublic,
    StoreOutcome,
    VersionPublic,
)
from deshi.knowledge.parse import MEDIA_TYPES, ParsedFile, parse_file
from deshi.knowledge.vectors import KnowledgeIndex, to_bytes
from deshi.permissions import Action, Principal, can, require
from deshi.processes.service import get_department

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_PASSAGES",
    "SourceFile",
    "SyncReport",
    "document_detail",
    "get_document",
    "get_document_for",
    "get_passage_for",
    "list_documents",
    "list_documents_for",
    "remove_document",
    "remove_document_by_name",
    "remove_document_for",
    "source_of",
    "store_document_for",
    "store_documents",
    "sync_directory",
]

MAX_DOCUMENT_BYTES: Final = 20 * 1024 * 1024
MAX_PASSAGES: Final = 5000  # about 3 million characters of text per document
MAX_NAME_CHARS: Final = 255
_SYNC_BATCH: Final = 32  # files parsed and embedded together


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to store: its name in the knowledge base and its bytes."""

    name: str
    content: bytes


@dataclass
class SyncReport:
    """What a folder sync did, by document name."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not a supported file type


@dataclass(frozen=True, slots=True)
class _Prepared:
    file: SourceFile
    content_hash: str
    parsed: ParsedFile
    chunks: list[Chunk]


# --- store ------------------------------------------------------------------------------------


def store_documents(
    session: Session,
    *,
    actor: str,
    department_id: int,
    files: Sequence[SourceFile],
    index: KnowledgeIndex,
) -> list[StoreOutcome]:
    """Store files in a department's knowledge base (parsed and embedded together); one outcome
    per file, in order. ValidationFailed names the first file that cannot be stored."""
    department = get_department(session, department_id)
    if department.archived_at is not None:
        raise Conflict(f"department {department_id} is archived")
    changed: list[tuple[int, _Prepared, KnowledgeDocument | None]] = []
    outcomes: list[StoreOutcome | None] = []
    for position, file in enumerate(files):
        name = _checked_name(file.name)
        _check_size(name, file.content)
        content_hash = hashlib.sha256(file.content).hexdigest()
        document = repo.document_by_name(session, department_id, name)
        if document is not None and _is_current(session, document, content_hash):
            outcomes.append(_outcome(document, changed=False, passages=0))
            continue
        parsed = parse_file(name, file.content)
        chunks = chunk_blocks(parsed.blocks)
        if len(chunks) > MAX_PASSAGES:
            raise ValidationFailed(
                f"{name}: {len(chunks)} passages, more than {MAX_PASSAGES}: split the file",
                field="file",
            )
        prepared = _Prepared(SourceFile(name, file.content), content_hash, parsed, chunks)
        changed.append((position, prepared, document))
        outcomes.append(None)
    # Embedding is the slow part: it runs before the first write, so on SQLite the database's
    # write lock is not held meanwhile.
    vectors = index.embedder.passages(
        [_embedded_text(c) for _, prepared, _ in changed for c in prepared.chunks]
    )
    if changed:
        lexical.ensure_index(session)
    start = 0
    for position, prepared, document in changed:
        rows = vectors[start : start + len(prepared.chunks)]
        start += len(prepared.chunks)
        outcomes[position] = _store_version(
            session, actor, department_id, prepared, document, [to_bytes(row) for row in rows]
        )
    return [outcome for outcome in outcomes if outcome is not None]


def store_document_for(
    session: Session,
    *,
    principal: Principal,
    department_id: int,
    name: str,
    content: bytes,
    index: KnowledgeIndex,
) -> StoreOutcome:
    """Upload one file to a department the principal manages."""
    _require_department(principal, Action.MANAGE_PROCESS, department_id)
    files = [SourceFile(name, content)]
    return store_documents(
        session, actor=principal.actor, department_id=department_id, files=files, index=index
    )[0]


def sync_directory(
    factory: sessionmaker[Session],
    *,
    actor: str,
    department_id: int,
    directory: Path,
    prune: bool,
    index: KnowledgeIndex,
) -> SyncReport:
    """Store every supported file under `directory` (named by its path relative to it); with
    `prune`, remove the department's documents whose file is gone.

    Files are stored in batches of `_SYNC_BATCH`, one transaction each, so a large folder never
    holds the database's write lock for long; if a file is refused, the batches before it stay
    stored and running the sync again carries on (unchanged files are skipped)."""
    if not directory.is_dir():
        raise ValidationFailed(f"{directory} is not a directory", field="directory")
    with transaction(factory, lock_early=False) as session:
        get_department(session, department_id)  # NotFound even when the folder is empty
    report = SyncReport()
    supported: list[Path] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in MEDIA_TYPES:
            supported.append(path)
        else:
            report.skipped.append(relative.as_posix())
    for start in range(0, len(supported), _SYNC_BATCH):
        files = [_read_file(p, directory) for p in supported[start : start + _SYNC_BATCH]]
        with transaction(factory) as session:
            stored = store_documents(
                session, actor=actor, department_id=department_id, files=files, index=index
            )
        for file, outcome in zip(files, stored, strict=True):
            _tally(report, file.name, outcome)
    if prune:
        names = {p.relative_to(directory).as_posix() for p in supported}
        with transaction(factory) as session:
            for document in repo.list_documents(session, {department_id}):
                if document.name not in names:
                    remove_document(session, actor=actor, document=document)
                    report.removed.append(document.name)
    return report


def _store_version(
    session: Session,
    actor: str,
    department_id: int,
    prepared: _Prepared,
    document: KnowledgeDocument | None,
    vectors: list[bytes],
) -> StoreOutcome:
    """Add the prepared file as its document's new current version, audited."""
    now = utcnow()
    before = snapshot(document) if document is not None else None
    if document is None:
        document = KnowledgeDocument(department_id=department_id, name=prepared.file.name)
        session.add(document)
        session.flush()
    _retire_current(session, document)
    number = repo.next_version(session, document.id)
    version = KnowledgeVersion(
        document_id=document.id,
        version=number,
        content_hash=prepared.content_hash,
        media_type=prepared.parsed.media_type,
        language="ja" if any(contains_japanese(c.text) for c in prepared.chunks) else "other",
        size_bytes=len(prepared.file.content),
        pages=prepared.parsed.pages,
        passage_count=len(prepared.chunks),
        source=prepared.file.content,
        created_by=actor,
        created_at=now,
    )
    session.add(version)
    session.flush()
    passages = _passages(document, version, prepared.chunks, vectors)
    session.add_all(passages)
    session.flush()
    lexical.add_to_index(session, ((p.id, p.tokens, department_id) for p in passages))
    document.current_version = number
    document.removed_at = None
    document.updated_at = now
    after = {
        **snapshot(document),
        "version": number,
        "content_hash": prepared.content_hash,
        "passages": len(passages),
    }
    action = "knowledge.create" if before is None else "knowledge.update"
    record_event(session, actor=actor, action=action, obj=document, before=before, after=after)
    return _outcome(document, changed=True, passages=len(passages))


def _passages(
    document: KnowledgeDocument,
    version: KnowledgeVersion,
    chunks: list[Chunk],
    vectors: list[bytes],
) -> list[KnowledgePassage]:
    return [
        KnowledgePassage(
            version_id=version.id,
            document_id=document.id,
            department_id=document.department_id,
            ordinal=ordinal,
            page=chunk.page,
            section=chunk.section,
            text=chunk.text,
            tokens=" ".join(lexical.index_tokens(_embedded_text(chunk))),
            vector=vector,
            is_current=True,
        )
        for ordinal, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
    ]


def _embedded_text(chunk: Chunk) -> str:
    """What is embedded and indexed: the section's heading path gives a passage its context."""
    return f"{chunk.section}\n{chunk.text}" if chunk.section else chunk.text


def _retire_current(session: Session, document: KnowledgeDocument) -> None:
    ids = repo.current_passage_ids(session, document.id)
    repo.retire_passages(session, ids)
    lexical.drop_from_index(session, ids)


def _is_current(session: Session, document: KnowledgeDocument, content_hash: str) -> bool:
    if document.removed_at is not None or document.current_version == 0:
        return False
    current = repo.version_of(session, document.id, document.current_version)
    return current is not None and current.content_hash == content_hash


def _outcome(document: KnowledgeDocument, *, changed: bool, passages: int) -> StoreOutcome:
    return StoreOutcome(
        document=DocumentPublic.model_validate(document),
        version=document.current_version,
        changed=changed,
        passages=passages,
    )


def _tally(report: SyncReport, name: str, outcome: StoreOutcome) -> None:
    if not outcome.changed:
        report.unchanged.append(name)
    elif outcome.version == 1:
        report.created.append(name)
    else:
        report.updated.append(name)


def _checked_name(name: str) -> str:
    """A document name: a file name or a relative path, without control characters."""
    name = name.strip()
    parts = name.split("/")
    if (
        not name
        or len(name) > MAX_NAME_CHARS
        or "\\" in name
        or any(part in ("", ".", "..") for part in parts)
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    ):
        raise ValidationFailed(
            f"{name[:80]!r} is not a usable document name (a file name, at most "
            f"{MAX_NAME_CHARS} characters)",
            field="file",
        )
    return name


def _check_size(name: str, content: bytes) -> None:
    if len(content) > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(
            f"{name}: {len(content)} bytes, over the {MAX_DOCUMENT_BYTES} a document may have"
        )
    if not content:
        raise ValidationFailed(f"{name}: the file is empty", field="file")


def _read_file(path: Path, root: Path) -> SourceFile:
    size = path.stat().st_size
    name = path.relative_to(root).as_posix()
    if size > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(
            f"{name}: {size} bytes, over the {MAX_DOCUMENT_BYTES} a document may have"
        )
    return SourceFile(name, path.read_bytes())


# --- read -------------------------------------------------------------------------------------


def list_documents(
    session: Session, *, department_id: int | None = None, include_removed: bool = False
) -> list[KnowledgeDocument]:
    """A department's documents (every department's with None), by name; NotFound for a
    department that does not exist, as `search` says, rather than an empty list."""
    if department_id is not None:
        get_department(session, department_id)
    departments = {department_id} if department_id is not None else None
    return repo.list_documents(session, departments, include_removed=include_removed)


def list_documents_for(
    session: Session,
    *,
    principal: Principal,
    department_id: int | None = None,
    include_removed: bool = False,
) -> list[KnowledgeDocument]:
    """The documents of the departments the principal can see (or of one of them)."""
    if department_id is not None:
        _require_department(principal, Action.READ, department_id)
        departments: set[int] | None = {department_id}
    elif principal.is_workspace_admin:
        departments = None
    else:
        departments = {g.department_id for g in principal.grants if g.department_id is not None}
    return repo.list_documents(session, departments, include_removed=include_removed)


def get_document(session: Session, document_id: int) -> KnowledgeDocument:
    """The document with this id, removed or not; NotFound otherwise."""
    document = session.get(KnowledgeDocument, document_id)
    if document is None:
        raise NotFound(f"document {document_id} not found")
    return document


def get_document_by_name(session: Session, *, department_id: int, name: str) -> KnowledgeDocument:
    """The department's document of this name, removed or not (the CLI's `show NAME`)."""
    document = repo.document_by_name(session, department_id, name.strip())
    if document is None:
        raise NotFound(f"no document {name!r} in department {department_id}")
    return document


def get_document_for(
    session: Session, principal: Principal, document_id: int, action: Action = Action.READ
) -> KnowledgeDocument:
    """The document if the principal may `action` it; NotFound also in a department they
    cannot see."""
    document = get_document(session, document_id)
    try:
        require(principal, action, document.department_id)
    except NotFound:
        raise NotFound(f"document {document_id} not found") from None
    return document


def document_detail(
    session: Session, document: KnowledgeDocument, version: int | None = None
) -> DocumentDetail:
    """The document with its versions and the passages of `version` (default: the current
    one, else the newest)."""
    versions = repo.versions_of(session, document.id)
    if not versions:
        raise NotFound(f"document {document.id} has no version")
    wanted = version if version is not None else document.current_version or versions[0].version
    shown = next((v for v in versions if v.version == wanted), None)
    if shown is None:
        raise NotFound(f"document {document.id} has no version {wanted}")
    passages = [_passage_public(p, shown) for p in repo.passages_of(session, shown.id)]
    return DocumentDetail(
        **DocumentPublic.model_validate(document).model_dump(),
        versions=[VersionPublic.model_validate(v) for v in versions],
        shown_version=shown.version,
        passages=passages,
    )


def get_passage_for(session: Session, principal: Principal, passage_id: int) -> PassagePublic:
    """A passage (of any version) with the links that open it, if the principal may read its
    department."""
    passage = session.get(KnowledgePassage, passage_id)
    if passage is None or not can(principal, Action.READ, passage.department_id):
        raise NotFound(f"passage {passage_id} not found")
    version = session.get(KnowledgeVersion, passage.version_id)
    if version is None:  # pragma: no cover - a foreign key guarantees it
        raise NotFound(f"passage {passage_id} not found")
    return _passage_public(passage, version)


def source_of(session: Session, document: KnowledgeDocument, version: int) -> KnowledgeVersion:
    """A version of the document, with its original bytes."""
    found = repo.version_of(session, document.id, version)
    if found is None:
        raise NotFound(f"document {document.id} has no version {version}")
    return found


def _passage_public(passage: KnowledgePassage, version: KnowledgeVersion) -> PassagePublic:
    return PassagePublic(
        id=passage.id,
        document_id=passage.document_id,
        version=version.version,
        ordinal=passage.ordinal,
        page=passage.page,
        section=passage.section,
        text=passage.text,
        is_current=passage.is_current,
        url=passage_url(passage.document_id, version.version, passage.id),
        source_url=source_url(passage.document_id, version.version, passage.page),
    )


def _require_department(principal: Principal, action: Action, department_id: int) -> None:
    try:
        require(principal, action, department_id)
    except NotFound:
        raise NotFound(f"department {department_id} not found") from None


# --- remove -----------------------------------------------------------------------------------


def remove_document(session: Session, *, actor: str, document: KnowledgeDocument) -> None:
    """Take a document out of lists and search (its versions stay, for lineage); audited."""
    if document.removed_at is not None:
        raise Conflict(f"document {document.id} is already removed")
    before = snapshot(document)
    _retire_current(session, document)
    document.removed_at = utcnow()
    document.updated_at = document.removed_at
    record_event(
        session,
        actor=actor,
        action="knowledge.remove",
        obj=document,
        before=before,
        after=snapshot(document),
    )


def remove_document_for(session: Session, *, principal: Principal, document_id: int) -> None:
    """Remove a document of a department the principal manages."""
    document = get_document_for(session, principal, document_id, Action.MANAGE_PROCESS)
    remove_document(session, actor=principal.actor, document=document)


def remove_document_by_name(
    session: Session, *, actor: str, department_id: int, name: str
) -> KnowledgeDocument:
    """Remove the department's live document of this name (the CLI's `remove NAME`)."""
    document = repo.document_by_name(session, department_id, name.strip())
    if document is None or document.removed_at is not None:
        raise NotFound(f"no document {name!r} in department {department_id}")
    remove_document(session, actor=actor, document=document)
    return document
