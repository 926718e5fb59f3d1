"""A user's language is optional: without one, the browser's Accept-Language decides.

Users were created with the locale "en", and nothing in deshi ever set another, so a saved "en"
won over every browser: a Japanese user saw English pages after signing in until they used the
switch. Those defaults are cleared here (no user could have chosen "en" on purpose). "No
language" is the empty string rather than NULL: making the column nullable would rebuild the
users table on SQLite, which the foreign keys of every table pointing at it refuse inside the
migration's transaction.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_users = sa.table("users", sa.column("locale", sa.String()))


def upgrade() -> None:
    """Apply this revision."""
    op.execute(sa.update(_users).where(_users.c.locale == "en").values(locale=""))


def downgrade() -> None:
    """Revert this revision: users without a language get the old default back."""
    op.execute(sa.update(_users).where(_users.c.locale == "").values(locale="en"))
