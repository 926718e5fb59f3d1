"""Full-text ranking over Sudachi words, one design on both databases, no extension needed.

Each passage stores its words space-joined (`KnowledgePassage.tokens`): Sudachi split mode A,
normalised, lower-cased, cut into letter-and-digit runs (so neither database's own parser splits
them any further). A query is tokenised the same way and its words are OR-ed:

- SQLite: an FTS5 table `knowledge_fts(tokens, department_id UNINDEXED)` whose rowid is the
  passage id, ranked by FTS5's `bm25()`. It holds current passages only. It is a derived index,
  created and filled from `knowledge_passages` on first use (`ensure_index`), so it sits outside
  the ORM metadata (FTS5's shadow tables would otherwise read as unknown tables to the schema
  comparison) and a database that lacks it heals itself on the next write.
- PostgreSQL: `tsv @@ to_tsquery('simple', 'w1 | w2 …')` over the partial GIN index of
  migration 0017, where `tsv` is `to_tsvector('simple', tokens)` stored when the passage is
  indexed (`add_to_index`): matching and ranking never re-parse a passage. `ts_rank_cd` has no
  IDF, so it only picks the best 400 candidates; BM25 orders them, with each word's document
  frequency counted through the index and the candidates' average length standing in for the
  department's.

FTS5's statistics (document frequencies, average length) are over every department's current
passages; the department only filters. That shifts scores, not which department's passages can
be found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Final

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from deshi.engine.japanese import word_tokens

__all__ = [
    "add_to_index",
    "drop_from_index",
    "ensure_index",
    "index_tokens",
    "lexical_ranking",
]

_WORD_RUN: Final = re.compile(r"[^\W_]+")
_MAX_QUERY_WORDS: Final = 64
_PG_CANDIDATES: Final = 400  # PostgreSQL: ts_rank_cd's best matches that BM25 orders
_K1: Final = 1.2  # BM25's usual constants, FTS5's too
_B: Final = 0.75
# Words a question is made of but that say nothing of its subject (Sudachi's normalised forms
# for Japanese). They are dropped from queries only (passages keep every word), unless the
# query has nothing else: PostgreSQL's ts_rank_cd has no IDF to discount them, and a match on
# them alone would add noise to the fused ranking. (Dropping weak matches by score instead
# would empty SQLite's ranking in a knowledge base of two or three passages, where FTS5's BM25
# gives every word an IDF of about zero.)
_STOPWORD_TEXT: Final = (
    "a about an and are as at be been by can could did do does for from get had has have how i"
    " if in into is it its me my no not of on or our she should so than that the their them"
    " then there these they this those to up was we were what when where which who whom why"
    " will with would you your"
    " は が を に で と の も か へ や から まで より て た だ です ます ない ぬ ず する いる ある"
    " なる れる られる せる こと もの よう どう どこ いつ 何 なに どれ ば けれど けど ね よ な"
    " う たい など この その あの どの ため ので のに でしょう らしい という ござる"
    " 為る 居る 有る 或る 成る 無い 良い 事 物 様 時 出来る"
)
_STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split())


def index_tokens(text_: str) -> list[str]:
    """The words stored and searched: Sudachi words cut into letter-and-digit runs."""
    return [run for token in word_tokens(text_) for run in _WORD_RUN.findall(token)]


def ensure_index(session: Session) -> None:
    """Create SQLite's FTS5 table when missing and fill it from the current passages."""
    if not _is_sqlite(session):
        return
    exists = session.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'knowledge_fts'")
    ).first()
    if exists is not None:
        return
    session.execute(
        text("CREATE VIRTUAL TABLE knowledge_fts USING fts5(tokens, department_id UNINDEXED)")
    )
    session.execute(
        text(
            "INSERT INTO knowledge_fts (rowid, tokens, department_id) "
            "SELECT id, tokens, department_id FROM knowledge_passages WHERE is_current"
        )
    )


def add_to_index(session: Session, rows: Iterable[tuple[int, str, int]]) -> None:
    """Index new current passages: (passage id, tokens, department id): SQLite's FTS5 table,
    PostgreSQL's stored `tsv` (its GIN index follows the table)."""
    values = [{"id": pid, "tokens": tokens, "department": dep} for pid, tokens, dep in rows]
    if values and not _is_sqlite(session):
        statement = text(
            "UPDATE knowledge_passages SET tsv = to_tsvector('simple', tokens) WHERE id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        session.execute(statement, {"ids": [value["id"] for value in values]})
    elif values:
        session.execute(
            text(
                "INSERT INTO knowledge_fts (rowid, tokens, department_id) "
                "VALUES (:id, :tokens, :department)"
            ),
            values,
        )


def drop_from_index(session: Session, passage_ids: Sequence[int]) -> None:
    """Take passages out of the SQLite index (they are no longer current)."""
    if not _is_sqlite(session) or not passage_ids:
        return
    statement = text("DELETE FROM knowledge_fts WHERE rowid IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    session.execute(statement, {"ids": list(passage_ids)})


def lexical_ranking(
    session: Session, *, department_id: int, query: str, limit: int
) -> list[tuple[int, float]]:
    """The department's current passages matching any query word, best first, as
    (passage id, score: higher is better)."""
    words = list(dict.fromkeys(index_tokens(query)))
    words = [w for w in words if w not in _STOPWORDS] or words
    words = words[:_MAX_QUERY_WORDS]
    if not words:
        return []
    if _is_sqlite(session):
        return _fts5_ranking(session, department_id, words, limit)
    return _tsvector_ranking(session, department_id, words, limit)


def _fts5_ranking(
    session: Session, department_id: int, words: list[str], limit: int
) -> list[tuple[int, float]]:
    exists = session.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'knowledge_fts'")
    ).first()
    if exists is None:  # nothing was ever stored in this database
        return []
    match = " OR ".join(f'"{word}"' for word in words)
    rows = session.execute(
        text(
            "SELECT rowid, bm25(knowledge_fts) AS rank FROM knowledge_fts "
            "WHERE knowledge_fts MATCH :match AND department_id = :department "
            "ORDER BY rank LIMIT :limit"
        ),
        {"match": match, "department": department_id, "limit": limit},
    ).all()
    return [(int(row.rowid), -float(row.rank)) for row in rows]  # bm25(): lower is better


def _tsvector_ranking(
    session: Session, department_id: int, words: list[str], limit: int
) -> list[tuple[int, float]]:
    """BM25 over the GIN index's best matches: `ts_rank_cd` picks the candidates (it has no
    IDF, so alone it ranks a common word's match like a rare one's), the words' document
    frequencies come from the index, and BM25 orders the candidates."""
    rows = session.execute(
        text(
            "SELECT id, tokens FROM knowledge_passages, to_tsquery('simple', :query) AS query "
            "WHERE department_id = :department AND is_current AND tsv @@ query "
            "ORDER BY ts_rank_cd(tsv, query) DESC, id "
            "LIMIT :candidates"
        ),
        {
            "query": " | ".join(words),
            "department": department_id,
            "candidates": max(limit, _PG_CANDIDATES),
        },
    ).all()
    if not rows:
        return []
    total, frequencies = _document_frequencies(session, department_id, words)
    passages = [(int(row.id), row.tokens.split()) for row in rows]
    average = sum(len(tokens) for _, tokens in passages) / len(passages)
    scored = [(pid, _bm25(tokens, words, frequencies, total, average)) for pid, tokens in passages]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[:limit]


def _document_frequencies(
    session: Session, department_id: int, words: list[str]
) -> tuple[int, dict[str, int]]:
    """The department's current passage count and, per word, how many of them hold it."""
    total: int = session.execute(
        text(
            "SELECT count(*) FROM knowledge_passages "
            "WHERE department_id = :department AND is_current"
        ),
        {"department": department_id},
    ).scalar_one()
    # One scan of the matching passages counts every word (a count per word scanned them once
    # per word: three times the time at 11,500 passages). Only bound parameters enter the SQL.
    counts = ", ".join(
        f"count(*) FILTER (WHERE tsv @@ to_tsquery('simple', :w{i}))" for i in range(len(words))
    )
    row = session.execute(
        text(
            f"SELECT {counts} FROM knowledge_passages "
            "WHERE department_id = :department AND is_current "
            "AND tsv @@ to_tsquery('simple', :query)"
        ),
        {
            "department": department_id,
            "query": " | ".join(words),
            **{f"w{i}": word for i, word in enumerate(words)},
        },
    ).one()
    return int(total), {word: int(row[i]) for i, word in enumerate(words)}


def _bm25(
    tokens: list[str], words: list[str], frequencies: dict[str, int], total: int, average: float
) -> float:
    """Okapi BM25 of one passage (k1 = 1.2, b = 0.75, Lucene's always-positive IDF); the
    average length is the candidates' (an approximation that saves a scan of the table)."""
    counts: dict[str, int] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    norm = _K1 * (1 - _B + _B * len(tokens) / average) if average else _K1
    score = 0.0
    for word in words:
        tf = counts.get(word, 0)
        if tf:
            df = frequencies.get(word, 0)
            idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
            score += idf * tf * (_K1 + 1) / (tf + norm)
    return score


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"
