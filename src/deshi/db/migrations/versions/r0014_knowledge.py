"""The knowledge base (issue #25): documents per department, their versions and passages.

`knowledge_documents` (a file known by its name in a department), `knowledge_versions` (each
upload that changed the bytes: the original file, its sha256, what parsing found) and
`knowledge_passages` (sentence-bounded chunks with their page or section, Sudachi tokens and an
embedding). On PostgreSQL a partial GIN index on `to_tsvector('simple', tokens)` serves lexical
search over current passages; SQLite's FTS5 table is a derived index that deshi.knowledge
creates and fills on first use (and the downgrade drops).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_knowledge_documents_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_documents")),
        sa.UniqueConstraint(
            "department_id", "name", name=op.f("uq_knowledge_documents_department_id_name")
        ),
    )
    op.create_index(
        op.f("ix_knowledge_documents_department_id"),
        "knowledge_documents",
        ["department_id"],
        unique=False,
    )
    op.create_table(
        "knowledge_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("passage_count", sa.Integer(), nullable=False),
        sa.Column("source", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["knowledge_documents.id"],
            name=op.f("fk_knowledge_versions_document_id_knowledge_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_versions")),
        sa.UniqueConstraint(
            "document_id", "version", name=op.f("uq_knowledge_versions_document_id_version")
        ),
    )
    op.create_index(
        op.f("ix_knowledge_versions_document_id"),
        "knowledge_versions",
        ["document_id"],
        unique=False,
    )
    op.create_table(
        "knowledge_passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("section", sa.String(length=500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_knowledge_passages_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["knowledge_documents.id"],
            name=op.f("fk_knowledge_passages_document_id_knowledge_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["knowledge_versions.id"],
            name=op.f("fk_knowledge_passages_version_id_knowledge_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_passages")),
    )
    op.create_index(
        "ix_knowledge_passages_department_id_is_current",
        "knowledge_passages",
        ["department_id", "is_current"],
        unique=False,
    )
    op.create_index(
        op.f("ix_knowledge_passages_document_id"),
        "knowledge_passages",
        ["document_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_knowledge_passages_version_id"),
        "knowledge_passages",
        ["version_id"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_knowledge_passages_tokens_fts ON knowledge_passages "
            "USING gin (to_tsvector('simple', tokens)) WHERE is_current"
        )


def downgrade() -> None:
    """Revert this revision: the knowledge base is gone (documents included)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_knowledge_passages_tokens_fts")
    op.drop_index(op.f("ix_knowledge_passages_version_id"), table_name="knowledge_passages")
    op.drop_index(op.f("ix_knowledge_passages_document_id"), table_name="knowledge_passages")
    op.drop_index("ix_knowledge_passages_department_id_is_current", table_name="knowledge_passages")
    op.drop_table("knowledge_passages")
    op.drop_index(op.f("ix_knowledge_versions_document_id"), table_name="knowledge_versions")
    op.drop_table("knowledge_versions")
    op.drop_index(op.f("ix_knowledge_documents_department_id"), table_name="knowledge_documents")
    op.drop_table("knowledge_documents")
