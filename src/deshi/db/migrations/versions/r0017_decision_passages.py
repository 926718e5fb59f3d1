"""Evidence passages of a decision (issue #25), and a stored tsvector for lexical search.

`decisions.evidence_passages` is NULL until the item is first shown to a person (workbench,
review claim, lineage page, `GET /items/{id}`); then it holds the department's top passages
found for the item's text (document, version, passage id, page, section, score, excerpt) and
`passages_retrieved_at` when, so the lineage shows what the reviewer saw even after the
documents change. An empty list means the knowledge base had nothing then.

`knowledge_passages.tsv` (PostgreSQL: `to_tsvector('simple', tokens)`, filled here for stored
passages and by `deshi.knowledge.lexical` for new ones; SQLite: an unused NULL text column)
replaces the expression index of 0014: with only the expression indexed, every search
recomputed the vectors of the department's passages (the planner prefers a scan on small
tables and to_tsvector's cost is underestimated), which took seconds at 10,000 passages once
each item's first view searched.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    # plain ADD COLUMN (nullable, no default): instant on both databases, however many rows
    op.add_column("decisions", sa.Column("evidence_passages", sa.JSON(), nullable=True))
    op.add_column(
        "decisions", sa.Column("passages_retrieved_at", sa.DateTime(timezone=True), nullable=True)
    )
    tsv = sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")
    op.add_column("knowledge_passages", sa.Column("tsv", tsv, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE knowledge_passages SET tsv = to_tsvector('simple', tokens)")
        op.execute("DROP INDEX IF EXISTS ix_knowledge_passages_tokens_fts")
        op.execute(
            "CREATE INDEX ix_knowledge_passages_tsv ON knowledge_passages "
            "USING gin (tsv) WHERE is_current"
        )


def downgrade() -> None:
    """Revert this revision: the stored passages are dropped (they are retrieved again)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_knowledge_passages_tsv")
        op.execute(
            "CREATE INDEX ix_knowledge_passages_tokens_fts ON knowledge_passages "
            "USING gin (to_tsvector('simple', tokens)) WHERE is_current"
        )
    with op.batch_alter_table("knowledge_passages") as batch:
        batch.drop_column("tsv")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("passages_retrieved_at")
        batch.drop_column("evidence_passages")
