"""Evidence passages found ahead of the claim that shows them.

An item's passages are found the first time a person is shown it (`deshi.items.passages`),
which costs a query embedding: about 25 ms of a core with multilingual-e5-small, inside the
claim's write transaction. A reviewer's next claim is predictable (the queue is leased oldest
first), so right after a claim has been answered the passages of the next few claimable items
are found while the reviewer reads: their claims then only read what is stored. Measured in
docs/benchmarks.md, "Workbench round trip".

The passages are found in a read transaction and stored in a short write of their own, so the
embedding never holds SQLite's write lock. The write fills only a decision that has none, as
every first view does; the stored time (`passages_retrieved_at`) is when they were found,
seconds to minutes before the item is shown. This is best-effort work after a response: a
failure is logged and the claim finds the passages itself.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import Item
from deshi.items import repo as items_repo
from deshi.items.passages import find_passages, store_passages
from deshi.knowledge import KnowledgeIndex
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for
from deshi.reviews import repo
from deshi.reviews.service import takes_escalated

__all__ = ["PREFETCH_ITEMS", "prefetch_passages"]

logger = logging.getLogger(__name__)

# The claimable items looked at after a claim. The first is usually done by the claim before
# (one embedding per claim in a steady queue); the second covers a second reviewer of the
# same queue.
PREFETCH_ITEMS: Final = 2


def prefetch_passages(
    factory: sessionmaker[Session],
    *,
    principal: Principal,
    process_id: int,
    index: KnowledgeIndex,
    count: int = PREFETCH_ITEMS,
    now: datetime | None = None,
) -> int:
    """Find and store the passages of the next `count` claimable items that have none; how
    many were stored (0 after a failure, which is logged)."""
    now = now or utcnow()
    try:
        found = _find_ahead(
            factory, principal=principal, process_id=process_id, index=index, count=count, now=now
        )
        if not found:
            return 0
        with transaction(factory) as session:
            return sum(
                store_passages(session, decision_id=decision_id, passages=passages, now=now)
                for decision_id, passages in found
            )
    except Exception:  # best effort after the response: the claim finds them itself
        logger.warning("passages not found ahead for process %s", process_id, exc_info=True)
        return 0


def _find_ahead(
    factory: sessionmaker[Session],
    *,
    principal: Principal,
    process_id: int,
    index: KnowledgeIndex,
    count: int,
    now: datetime,
) -> list[tuple[int, list[dict[str, Any]]]]:
    """(decision id, passages) of the next claimable items whose decision has none."""
    with transaction(factory, lock_early=False) as session:
        process = get_process_for(session, principal, process_id, Action.REVIEW)
        ids = repo.next_claimable(
            session,
            process_id=process.id,
            now=now,
            include_escalated=takes_escalated(principal, process),
            limit=count,
        )
        decisions = items_repo.decisions_of(session, ids)
        found = []
        for item_id, decision in decisions.items():
            item = None if decision.evidence_passages is not None else session.get(Item, item_id)
            if item is not None:
                passages = find_passages(session, process=process, item=item, index=index)
                found.append((decision.id, passages))
        return found
