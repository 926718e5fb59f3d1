"""Model versions are stored as model files; migration 0008 converts the pickles of older
versions, and a pickle left in the database is refused rather than loaded."""

from __future__ import annotations

import pytest
from alembic import command
from learning_desk import Desk, banking_rows
from sqlalchemy import Engine, func, inspect, select

from deshi.db.migrate import alembic_config, upgrade_to_head
from deshi.db.tables import ModelVersion
from deshi.engine.legacy_pickle import is_pickled
from deshi.engine.serialize import PickledModelError, load_model
from deshi.learning.repo import load_artifacts


def _artifacts(desk: Desk) -> list[bytes]:
    with desk.factory() as session:
        return list(session.scalars(select(ModelVersion.artifact).order_by(ModelVersion.id)))


def _set_artifacts(desk: Desk, artifacts: list[bytes]) -> None:
    with desk.factory.begin() as session:
        versions = session.scalars(select(ModelVersion).order_by(ModelVersion.id)).all()
        for version, artifact in zip(versions, artifacts, strict=True):
            version.artifact = artifact


def test_versions_are_stored_as_model_files(desk: Desk) -> None:
    desk.teach(banking_rows()[:60])
    artifacts = _artifacts(desk)
    assert artifacts and not any(is_pickled(a) for a in artifacts)
    assert [load_model(a).version for a in artifacts] == list(range(1, len(artifacts) + 1))


def test_migration_0008_converts_pickled_versions_and_a_pickle_is_never_loaded(
    desk: Desk, engine: Engine
) -> None:
    desk.teach(banking_rows()[:60])
    stored = _artifacts(desk)
    fresh = desk.other_process()  # loads every version from the database
    [(_, before)] = fresh.decide(["Where is my card?"])
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0007")  # as stored before the format
    pickled = _artifacts(desk)
    assert all(is_pickled(a) for a in pickled)

    upgrade_to_head(engine)

    assert _artifacts(desk) == stored
    # A pickle left in the database is refused, not loaded. Checked on the head schema: the code
    # reads columns that later migrations add, so it cannot run on the 0007 schema.
    _set_artifacts(desk, pickled)
    fresh.registry.invalidate(desk.process_id)
    with pytest.raises(PickledModelError, match="deshi init"):
        fresh.decide(["Where is my card?"])
    _set_artifacts(desk, stored)
    fresh.registry.invalidate(desk.process_id)
    [(_, after)] = fresh.decide(["Where is my card?"])
    assert (after.label, after.confidence, after.model_version) == (
        before.label,
        before.confidence,
        before.model_version,
    )


def test_a_version_row_reads_its_model_file_only_when_asked(desk: Desk) -> None:
    """The artifact is deferred: a row read for its number, status or metrics (an answer in the
    workbench reads one) does not read a file of megabytes; the readers of models select it."""
    desk.teach(banking_rows()[:60])
    with desk.factory() as session:
        row = session.scalars(select(ModelVersion).order_by(ModelVersion.id)).first()
        assert row is not None and "artifact" in inspect(row).unloaded
        newest = session.scalars(select(func.max(ModelVersion.version))).one()
        [artifact] = load_artifacts(session, desk.process_id, [newest]).values()
        assert load_model(artifact).version == newest
