"""The knowledge base: each department's documents, parsed, chunked, versioned and searchable.

    parse.py    files → text blocks with their page or section (PDF, DOCX, HTML, Markdown, text)
    chunk.py    blocks → passages of whole sentences (Japanese 。 included), bounded in size
    lexical.py  full-text ranking over Sudachi words: SQLite FTS5 / PostgreSQL tsvector
    vectors.py  embeddings stored as bytes, a department's matrix cached; `KnowledgeIndex`
    search.py   hybrid search fused by reciprocal rank; `evidence_for`, a decision's passages
    service.py  store (upload, sync), list, read, open a passage, remove; permissions and audit
    links.py    where a passage opens (the document page at its anchor, the original file)

See docs/knowledge.md for the design and docs/benchmarks.md for its measured retrieval quality.
"""

from deshi.knowledge.search import evidence_for, search, search_for, search_many
from deshi.knowledge.vectors import KnowledgeIndex

__all__ = ["KnowledgeIndex", "evidence_for", "search", "search_for", "search_many"]
