"""Audit events name the key their hash was made with (`key_id`), so the chain can be keyed.

Events written before have no key id: they verify by their SHA-256 as before. From the first
event written with `DESHI_AUDIT_KEY` (or `DESHI_AUDIT_KEY_FILE`) configured, each event's hash
is an HMAC-SHA256 under that key, and every later event must be keyed too (deshi.audit.chain).
Adding a nullable column changes no stored event, so no hash changes.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deshi.db.migrations.versions.r0001_initial_schema import guard_audit_log, unguard_audit_log

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision (SQLite rebuilds the table, so the guard is put back after)."""
    unguard_audit_log()
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("key_id", sa.String(16), nullable=True))
    guard_audit_log()


def downgrade() -> None:
    """Revert this revision: keyed events stay, but no longer say which key made them."""
    unguard_audit_log()
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("key_id")
    guard_audit_log()
