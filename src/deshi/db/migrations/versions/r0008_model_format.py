"""Stored model versions move from pickles to the deshi model format (docs/engine.md).

deshi no longer loads pickles: loading one runs whatever code it names. Each artifact that is
still a pickle is converted once, here, by a restricted unpickler (deshi.engine.legacy_pickle),
one row at a time (an artifact can be tens of MB). The converted model decides exactly as the
pickled one did. Downgrading pickles them again, for the deshi version before this one.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_versions = sa.table(
    "model_versions", sa.column("id", sa.Integer()), sa.column("artifact", sa.LargeBinary())
)


def upgrade() -> None:
    """Apply this revision."""
    from deshi.engine.legacy_pickle import convert_pickled, is_pickled  # slow: scikit-learn

    _rewrite(lambda artifact: convert_pickled(artifact) if is_pickled(artifact) else None)


def downgrade() -> None:
    """Revert this revision."""
    import pickle

    from deshi.engine.legacy_pickle import is_pickled
    from deshi.engine.serialize import load_model

    def to_pickle(artifact: bytes) -> bytes | None:
        if is_pickled(artifact):
            return None
        return pickle.dumps(load_model(artifact), protocol=pickle.HIGHEST_PROTOCOL)

    _rewrite(to_pickle)


def _rewrite(convert: Callable[[bytes], bytes | None]) -> None:
    """Replace each artifact by `convert(artifact)`, unless that is None."""
    connection = op.get_bind()
    ids: list[int] = list(connection.scalars(sa.select(_versions.c.id).order_by(_versions.c.id)))
    for row_id in ids:
        artifact: bytes = connection.execute(
            sa.select(_versions.c.artifact).where(_versions.c.id == row_id)
        ).scalar_one()
        converted = convert(artifact)
        if converted is not None:
            connection.execute(
                sa.update(_versions).where(_versions.c.id == row_id).values(artifact=converted)
            )
