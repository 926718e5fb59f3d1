"""Stored drafts and the reviewer's verdict on them (issue #25).

`drafts`: every drafted reply as it was shown (text, cited passage ids, the faithfulness check,
the guardrails that fired) and, once a reviewer judged it, the verdict (accepted, edited with
the final text and its normalised edit distance, or rejected), by whom and when. Accepted and
edited drafts are the process's past answers; the drafting KPIs read this table.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("drafter", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("sentences", sa.Integer(), nullable=False),
        sa.Column("supported_sentences", sa.Integer(), nullable=False),
        sa.Column("faithfulness", sa.Float(), nullable=False),
        sa.Column("has_unsupported_claim", sa.Boolean(), nullable=False),
        sa.Column("guardrails", sa.JSON(), nullable=False),
        sa.Column("redactions", sa.Integer(), nullable=False),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("injection_blocks", sa.Integer(), nullable=False),
        sa.Column("model_failures", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "verdict",
            sa.Enum(
                "accepted",
                "edited",
                "rejected",
                name="draft_verdict",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("final_text", sa.Text(), nullable=True),
        sa.Column("edit_distance", sa.Float(), nullable=True),
        sa.Column("verdict_by", sa.String(length=200), nullable=True),
        sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_drafts_department_id_departments")
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_drafts_item_id_items")),
        sa.ForeignKeyConstraint(
            ["process_id"], ["processes.id"], name=op.f("fk_drafts_process_id_processes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
    )
    op.create_index(op.f("ix_drafts_department_id"), "drafts", ["department_id"], unique=False)
    op.create_index(op.f("ix_drafts_item_id"), "drafts", ["item_id"], unique=False)
    op.create_index(
        "ix_drafts_process_id_verdict", "drafts", ["process_id", "verdict"], unique=False
    )


def downgrade() -> None:
    """Revert this revision: stored drafts and their verdicts are gone."""
    op.drop_index("ix_drafts_process_id_verdict", table_name="drafts")
    op.drop_index(op.f("ix_drafts_item_id"), table_name="drafts")
    op.drop_index(op.f("ix_drafts_department_id"), table_name="drafts")
    op.drop_table("drafts")
