"""`fetch_binary`: binary columns read whole, in the session's own transaction, on either
database (in binary format on PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.blobs import fetch_binary
from deshi.db.tables import Department, ModelVersion, Process

EVERY_BYTE = bytes(range(256))


def _versions(session: Session, artifacts: dict[int, bytes]) -> int:
    department = Department(name="claims")
    session.add(department)
    session.flush()
    process = Process(department_id=department.id, name="routing", labels=["a", "b"])
    session.add(process)
    session.flush()
    for version, artifact in artifacts.items():
        session.add(ModelVersion(process_id=process.id, version=version, artifact=artifact))
    return process.id  # not flushed: the read must see the session's pending writes


def test_binary_values_come_back_byte_for_byte_with_the_other_columns(session: Session) -> None:
    artifacts = {1: EVERY_BYTE * 4_000, 2: b"", 3: b"\x00" + EVERY_BYTE[::-1] + b"\x00"}
    process_id = _versions(session, artifacts)
    query = (
        select(ModelVersion.version, ModelVersion.artifact)
        .where(ModelVersion.process_id == process_id)
        .order_by(ModelVersion.version)
    )
    rows = fetch_binary(session, query)
    assert rows == [(v, a) for v, a in sorted(artifacts.items())]
    assert all(type(artifact) is bytes for _, artifact in rows)


def test_a_list_in_the_query_is_expanded_as_sqlalchemy_would(session: Session) -> None:
    process_id = _versions(session, {v: bytes([v]) * v for v in range(1, 6)})
    query = (
        select(ModelVersion.artifact)
        .where(ModelVersion.process_id == process_id, ModelVersion.version.not_in([2, 4]))
        .order_by(ModelVersion.version)
    )
    assert fetch_binary(session, query) == [(b"\x01",), (b"\x03" * 3,), (b"\x05" * 5,)]
