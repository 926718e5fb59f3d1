"""Hybrid retrieval: full-text ranking and embedding similarity, fused by reciprocal rank.

Each ranking proposes its best `candidates` passages of the department (current versions
only); reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009) scores a passage
Σ 1 / (k + rank) over the rankings that found it, with the usual k = 60. It needs no score
calibration between a BM25-like rank and a cosine, which differ in scale on every database.
Ties keep the order of the first ranking that found them (embeddings first: on the benchmarks
they are the stronger single ranking).

`search` serves one query; `search_many` embeds many queries in one batch (the benchmark).
`evidence_for` finds a decision's evidence passages (`deshi.items.passages` stores them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from deshi.errors import NotFound
from deshi.knowledge import lexical, repo
from deshi.knowledge.links import passage_url, source_url
from deshi.knowledge.models import MAX_QUERY_CHARS, SearchHit, SearchMode
from deshi.knowledge.vectors import KnowledgeIndex
from deshi.permissions import Action, Principal, require
from deshi.processes.service import get_department

__all__ = ["RRF_K", "evidence_for", "reciprocal_rank_fusion", "search", "search_for", "search_many"]

RRF_K: Final = 60
_MIN_CANDIDATES: Final = 50


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], *, k: int = RRF_K
) -> list[tuple[int, float]]:
    """Ids scored Σ 1/(k + rank) over the rankings (ranks from 1), best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def search(
    session: Session,
    *,
    department_id: int,
    query: str,
    top_k: int = 5,
    mode: SearchMode = SearchMode.HYBRID,
    index: KnowledgeIndex,
) -> list[SearchHit]:
    """The department's `top_k` passages for the query, best first."""
    return search_many(
        session, department_id=department_id, queries=[query], top_k=top_k, mode=mode, index=index
    )[0]


def search_for(
    session: Session,
    *,
    principal: Principal,
    department_id: int,
    query: str,
    top_k: int = 5,
    mode: SearchMode = SearchMode.HYBRID,
    index: KnowledgeIndex,
) -> list[SearchHit]:
    """`search` in a department the principal can read (NotFound for one they cannot see)."""
    try:
        require(principal, Action.READ, department_id)
    except NotFound:
        raise NotFound(f"department {department_id} not found") from None
    return search(
        session, department_id=department_id, query=query, top_k=top_k, mode=mode, index=index
    )


def search_many(
    session: Session,
    *,
    department_id: int,
    queries: Sequence[str],
    top_k: int = 5,
    mode: SearchMode = SearchMode.HYBRID,
    index: KnowledgeIndex,
) -> list[list[SearchHit]]:
    """`search` for each query, the queries embedded in one batch."""
    get_department(session, department_id)  # NotFound for a department that does not exist
    candidates = max(_MIN_CANDIDATES, 4 * top_k)
    dense: list[list[tuple[int, float]]] = [[] for _ in queries]
    if mode is not SearchMode.LEXICAL:
        ids, matrix = index.vectors.matrix(session, department_id)
        if len(ids):
            embedded = index.embedder.queries(list(queries))
            dense = [_nearest(ids, matrix, row, candidates) for row in embedded]
    results = []
    for query, nearest in zip(queries, dense, strict=True):
        sparse = []
        if mode is not SearchMode.VECTOR:
            sparse = lexical.lexical_ranking(
                session, department_id=department_id, query=query, limit=candidates
            )
        results.append(_hits(session, _fused(mode, sparse, nearest, top_k), sparse, nearest))
    return results


def evidence_for(
    session: Session,
    *,
    department_id: int,
    text: str,
    top_k: int = 3,
    index: KnowledgeIndex,
) -> list[SearchHit]:
    """The passages that bear on an item's text, as evidence beside its similar cases.

    `deshi.items.passages` calls this when an item is first shown to a person and stores the
    hits with its decision (see there for why then and not at ingest). A department without
    current passages costs one indexed count (the vector cache's fingerprint) and no embedding;
    a long text is cut to a query's length (the embedder reads its first 512 tokens anyway).
    """
    if not text.strip():
        return []
    ids, _ = index.vectors.matrix(session, department_id)
    if not len(ids):
        return []
    query = text[:MAX_QUERY_CHARS]
    return search(session, department_id=department_id, query=query, top_k=top_k, index=index)


def _nearest(
    ids: NDArray[np.int64], matrix: NDArray[np.float32], query: NDArray[np.float32], limit: int
) -> list[tuple[int, float]]:
    """The `limit` most similar passages by cosine (rows are unit length), best first."""
    scores = matrix @ query
    if len(scores) > limit:
        top = np.argpartition(-scores, limit - 1)[:limit]
    else:
        top = np.arange(len(scores))
    ordered = top[np.argsort(-scores[top], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in ordered]


def _fused(
    mode: SearchMode,
    sparse: list[tuple[int, float]],
    dense: list[tuple[int, float]],
    top_k: int,
) -> list[tuple[int, float]]:
    if mode is SearchMode.LEXICAL:
        return sparse[:top_k]
    if mode is SearchMode.VECTOR:
        return dense[:top_k]
    rankings = [[pid for pid, _ in dense], [pid for pid, _ in sparse]]
    return reciprocal_rank_fusion(rankings)[:top_k]


def _hits(
    session: Session,
    chosen: list[tuple[int, float]],
    sparse: list[tuple[int, float]],
    dense: list[tuple[int, float]],
) -> list[SearchHit]:
    rows = repo.hits_rows(session, [pid for pid, _ in chosen])
    lexical_rank = {pid: rank for rank, (pid, _) in enumerate(sparse, start=1)}
    vector_rank = {pid: rank for rank, (pid, _) in enumerate(dense, start=1)}
    hits = []
    for pid, score in chosen:
        row = rows[pid]
        hits.append(
            SearchHit(
                passage_id=pid,
                document_id=row.document_id,
                document=row.name,
                version=row.version,
                page=row.page,
                section=row.section,
                passage=row.text,
                score=round(score, 6),
                lexical_rank=lexical_rank.get(pid),
                vector_rank=vector_rank.get(pid),
                url=passage_url(row.document_id, row.version, pid),
                source_url=source_url(row.document_id, row.version, row.page),
            )
        )
    return hits
