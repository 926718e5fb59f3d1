"""Storing documents: versions (old passages stay for lineage), unchanged uploads, removal,
folder sync, limits, department isolation and the audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import AuditEvent, KnowledgePassage
from deshi.domain import Role
from deshi.errors import Conflict, NotFound, PayloadTooLarge, PermissionDenied, ValidationFailed
from deshi.knowledge import KnowledgeIndex, evidence_for, search, search_for
from deshi.knowledge.models import SearchMode
from deshi.knowledge.service import (
    MAX_DOCUMENT_BYTES,
    SourceFile,
    document_detail,
    get_document_for,
    get_passage_for,
    list_documents,
    list_documents_for,
    remove_document_by_name,
    remove_document_for,
    store_document_for,
    store_documents,
    sync_directory,
)
from deshi.permissions import Grant, Principal
from deshi.processes.service import archive_department
from knowledge_fakes import Departments

POLICY_V1 = "Refunds are paid within 14 days. 返金は十四日以内に支払われます。".encode()
POLICY_V2 = b"Refunds are paid within 30 days of the claim."


def _store(
    session: Session, index: KnowledgeIndex, department: int, name: str, content: bytes
) -> bool:
    files = [SourceFile(name, content)]
    outcome = store_documents(
        session, actor="test", department_id=department, files=files, index=index
    )
    return outcome[0].changed


def _owner(department: int) -> Principal:
    return Principal.of(7, [Grant(Role.OWNER, department)])


def _reviewer(department: int) -> Principal:
    return Principal.of(8, [Grant(Role.REVIEWER, department)])


def _events(session: Session) -> list[tuple[str, int | None]]:
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.department_id)
        .where(AuditEvent.action.like("knowledge.%"))
        .order_by(AuditEvent.seq)
    )
    return [(row.action, row.department_id) for row in rows]


def test_a_new_upload_of_a_name_is_its_new_version_and_old_passages_stay_for_lineage(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        assert _store(session, index, departments.own, "refunds.txt", POLICY_V1)
    with transaction(session_factory) as session:
        assert _store(session, index, departments.own, "refunds.txt", POLICY_V2)
    with transaction(session_factory) as session:
        [document] = list_documents(session, department_id=departments.own)
        assert (document.name, document.current_version) == ("refunds.txt", 2)
        old = document_detail(session, document, 1)
        assert [v.version for v in old.versions] == [2, 1]
        assert old.passages[0].text.startswith("Refunds are paid within 14 days.")
        assert not old.passages[0].is_current
        hits = search(session, department_id=departments.own, query="refund days", index=index)
        assert [(h.document, h.version) for h in hits] == [("refunds.txt", 2)]
        assert "30 days" in hits[0].passage


def test_the_same_bytes_again_change_nothing_and_record_nothing(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        _store(session, index, departments.own, "refunds.txt", POLICY_V1)
    with transaction(session_factory) as session:
        assert not _store(session, index, departments.own, "refunds.txt", POLICY_V1)
        assert _events(session) == [("knowledge.create", departments.own)]
        assert session.scalar(select(KnowledgePassage.id).where(KnowledgePassage.id > 1)) is None


def test_every_change_is_audited_under_the_documents_department(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        _store(session, index, departments.own, "refunds.txt", POLICY_V1)
        _store(session, index, departments.own, "refunds.txt", POLICY_V2)
        remove_document_by_name(
            session, actor="test", department_id=departments.own, name="refunds.txt"
        )
        _store(session, index, departments.other, "other.txt", POLICY_V1)
    with transaction(session_factory) as session:
        assert _events(session) == [
            ("knowledge.create", departments.own),
            ("knowledge.update", departments.own),
            ("knowledge.remove", departments.own),
            ("knowledge.create", departments.other),
        ]
        after = session.scalars(
            select(AuditEvent.after).where(AuditEvent.action == "knowledge.update")
        ).one()
        assert after["version"] == 2 and after["passages"] == 1 and len(after["content_hash"]) == 64


def test_a_removed_document_leaves_lists_and_search_and_comes_back_as_a_new_version(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        _store(session, index, departments.own, "refunds.txt", POLICY_V1)
    with transaction(session_factory) as session:
        remove_document_for(session, principal=_owner(departments.own), document_id=1)
    with transaction(session_factory) as session:
        assert list_documents(session, department_id=departments.own) == []
        assert search(session, department_id=departments.own, query="refunds", index=index) == []
        with pytest.raises(Conflict):
            remove_document_for(session, principal=_owner(departments.own), document_id=1)
    with transaction(session_factory) as session:
        assert _store(session, index, departments.own, "refunds.txt", POLICY_V1)
    with transaction(session_factory) as session:
        [document] = list_documents(session, department_id=departments.own)
        assert document.current_version == 2 and document.removed_at is None
        assert search(session, department_id=departments.own, query="refunds", index=index)


def test_documents_are_invisible_outside_their_department(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        _store(session, index, departments.own, "refunds.txt", POLICY_V1)
    outsider = _owner(departments.other)
    with transaction(session_factory) as session:
        assert search(session, department_id=departments.other, query="refunds", index=index) == []
        assert list_documents_for(session, principal=outsider) == []
        for reach in (
            lambda: get_document_for(session, outsider, 1),
            lambda: get_passage_for(session, outsider, 1),
            lambda: remove_document_for(session, principal=outsider, document_id=1),
            lambda: search_for(
                session, principal=outsider, department_id=departments.own, query="x", index=index
            ),
            lambda: store_document_for(
                session,
                principal=outsider,
                department_id=departments.own,
                name="x.txt",
                content=b"x",
                index=index,
            ),
        ):
            with pytest.raises(NotFound):
                reach()


def test_reviewers_read_and_search_but_only_managers_upload_or_remove(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    reviewer = _reviewer(departments.own)
    with transaction(session_factory) as session:
        store_document_for(
            session,
            principal=_owner(departments.own),
            department_id=departments.own,
            name="refunds.txt",
            content=POLICY_V1,
            index=index,
        )
    with transaction(session_factory) as session:
        assert [d.name for d in list_documents_for(session, principal=reviewer)] == ["refunds.txt"]
        hits = search_for(
            session, principal=reviewer, department_id=departments.own, query="返金", index=index
        )
        assert hits[0].document == "refunds.txt"
        assert get_passage_for(session, reviewer, hits[0].passage_id).url.endswith(
            f"#p-{hits[0].passage_id}"
        )
        with pytest.raises(PermissionDenied):
            remove_document_for(session, principal=reviewer, document_id=1)
        with pytest.raises(PermissionDenied):
            store_document_for(
                session,
                principal=reviewer,
                department_id=departments.own,
                name="x.txt",
                content=b"x",
                index=index,
            )


def test_sync_updates_changed_files_only_and_prunes_only_when_asked(
    session_factory: sessionmaker[Session],
    departments: Departments,
    index: KnowledgeIndex,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "kb"
    (folder / "cards").mkdir(parents=True)
    (folder / "refunds.txt").write_bytes(POLICY_V1)
    (folder / "cards" / "lost.md").write_text("# Lost cards\nBlock the card at once.\n")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8")
    (folder / ".hidden.txt").write_text("not synced")

    def sync(prune: bool = False) -> tuple[list[str], ...]:
        report = sync_directory(
            session_factory,
            actor="test",
            department_id=departments.own,
            directory=folder,
            prune=prune,
            index=index,
        )
        return report.created, report.updated, report.unchanged, report.removed, report.skipped

    assert sync() == (["cards/lost.md", "refunds.txt"], [], [], [], ["photo.jpg"])
    (folder / "refunds.txt").write_bytes(POLICY_V2)
    (folder / "cards" / "lost.md").unlink()
    assert sync() == ([], ["refunds.txt"], [], [], ["photo.jpg"])
    assert sync(prune=True) == ([], [], ["refunds.txt"], ["cards/lost.md"], ["photo.jpg"])
    with transaction(session_factory) as session:
        names = [d.name for d in list_documents(session, department_id=departments.own)]
        assert names == ["refunds.txt"]


def test_oversized_empty_or_badly_named_files_are_refused(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        with pytest.raises(PayloadTooLarge):
            _store(session, index, departments.own, "big.txt", b"a" * (MAX_DOCUMENT_BYTES + 1))
        with pytest.raises(ValidationFailed, match="empty"):
            _store(session, index, departments.own, "empty.txt", b"")
        for name in ("../escape.txt", "a\\b.txt", "", "tab\there.txt"):
            with pytest.raises(ValidationFailed, match="not a usable document name"):
                _store(session, index, departments.own, name, b"text")


def test_an_archived_department_takes_no_documents(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        archive_department(session, actor="test", department_id=departments.other)
    with transaction(session_factory) as session, pytest.raises(Conflict):
        _store(session, index, departments.other, "refunds.txt", POLICY_V1)


def test_search_sees_new_documents_at_once_with_the_same_index(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    vector = {"mode": SearchMode.VECTOR, "index": index}
    with transaction(session_factory) as session:
        _store(session, index, departments.own, "refunds.txt", POLICY_V1)
    with transaction(session_factory) as session:
        first = search(session, department_id=departments.own, query="card", **vector)
        assert [h.document for h in first] == ["refunds.txt"]
    with transaction(session_factory) as session:
        _store(session, index, departments.own, "cards.txt", b"A lost card is blocked at once.")
    with transaction(session_factory) as session:
        hits = search(session, department_id=departments.own, query="card", **vector)
        assert hits[0].document == "cards.txt"


def test_sqlite_rebuilds_a_missing_full_text_index_from_the_stored_words(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("PostgreSQL's full-text index is a table index; nothing to rebuild")
        _store(session, index, departments.own, "refunds.txt", POLICY_V1)
        _store(session, index, departments.own, "hours.txt", b"The office opens at nine.")
        session.execute(text("DROP TABLE knowledge_fts"))
    with transaction(session_factory) as session:
        lexical = dict(mode=SearchMode.LEXICAL, index=index)
        assert search(session, department_id=departments.own, query="refunds", **lexical) == []
        _store(session, index, departments.own, "cards.txt", b"A lost card is blocked.")
        found = search(session, department_id=departments.own, query="refunds card", **lexical)
        assert sorted(h.document for h in found) == ["cards.txt", "refunds.txt"]


def test_evidence_for_an_item_is_its_department_s_best_passages(
    session_factory: sessionmaker[Session], departments: Departments, index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        _store(session, index, departments.own, "refunds.txt", POLICY_V1)
        _store(session, index, departments.other, "elsewhere.txt", POLICY_V1)
    with transaction(session_factory) as session:
        found = evidence_for(
            session, department_id=departments.own, text="When is my refund paid?", index=index
        )
        assert [(h.document, h.version) for h in found] == [("refunds.txt", 1)]
        assert evidence_for(session, department_id=departments.own, text="  ", index=index) == []
