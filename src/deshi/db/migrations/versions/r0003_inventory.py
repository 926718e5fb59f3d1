"""The process inventory: candidate processes per department, ranked by expected savings.

Additive: one new table, nothing existing changes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "inventory_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("monthly_volume", sa.Float(), nullable=False),
        sa.Column("minutes_per_item", sa.Float(), nullable=False),
        sa.Column("exception_rate", sa.Float(), nullable=False),
        sa.Column("measurability", sa.Integer(), nullable=False),
        sa.Column("hourly_rate", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "exception_rate >= 0 AND exception_rate <= 1",
            name=op.f("ck_inventory_candidates_exception_rate"),
        ),
        sa.CheckConstraint(
            "measurability >= 1 AND measurability <= 5",
            name=op.f("ck_inventory_candidates_measurability"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_inventory_candidates_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_candidates")),
        sa.UniqueConstraint(
            "department_id", "name", name=op.f("uq_inventory_candidates_department_id_name")
        ),
    )
    op.create_index(
        op.f("ix_inventory_candidates_department_id"),
        "inventory_candidates",
        ["department_id"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("inventory_candidates")
