"""Item routes: ingest one or a batch (idempotent on external_id), read with lineage."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Response, status

from deshi.items import service
from deshi.items.models import ItemBatchCreate, ItemBatchPublic, ItemCreate, ItemPublic
from deshi.web.api.knowledge import KnowledgeDep
from deshi.web.deps import ConfigDep, FactoryDep, PrincipalDep, RegistryDep, SessionDep
from deshi.web.metrics import MetricsDep
from deshi.web.params import PathId

router = APIRouter(tags=["items"])

_IDEMPOTENT: dict[int | str, dict[str, Any]] = {
    200: {"description": "Already stored under this external_id: returned as is."}
}


@router.post(
    "/processes/{process_id}/items",
    response_model=ItemPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_IDEMPOTENT,
)
def create_item(
    process_id: PathId,
    body: ItemCreate,
    response: Response,
    factory: FactoryDep,
    principal: PrincipalDep,
    config: ConfigDep,
    registry: RegistryDep,
    metrics: MetricsDep,
) -> ItemPublic:
    """Submit one item; it is decided and routed at once (201, or 200 when re-sent)."""
    started = time.perf_counter()
    [item] = service.ingest_items(
        factory,
        principal=principal,
        process_id=process_id,
        items=[body],
        limits=config.limits,
        batch=False,
        registry=registry,
    )
    if metrics is not None:
        metrics.observe_ingest([item], batch=False, seconds=time.perf_counter() - started)
    if not item.created:
        response.status_code = status.HTTP_200_OK
    return item


@router.post(
    "/processes/{process_id}/items:batch",
    response_model=ItemBatchPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_IDEMPOTENT,
)
def create_items(
    process_id: PathId,
    body: ItemBatchCreate,
    response: Response,
    factory: FactoryDep,
    principal: PrincipalDep,
    config: ConfigDep,
    registry: RegistryDep,
    metrics: MetricsDep,
) -> ItemBatchPublic:
    """Submit up to 1,000 items, all-or-nothing (201 if any is new, 200 if none is)."""
    started = time.perf_counter()
    items = service.ingest_items(
        factory,
        principal=principal,
        process_id=process_id,
        items=body.items,
        limits=config.limits,
        batch=True,
        registry=registry,
    )
    if metrics is not None:
        metrics.observe_ingest(items, batch=True, seconds=time.perf_counter() - started)
    created = sum(item.created for item in items)
    if not created:
        response.status_code = status.HTTP_200_OK
    return ItemBatchPublic(created=created, existing=len(items) - created, items=items)


@router.get(
    "/items/{item_id}",
    response_model=ItemPublic,
    responses={404: {"description": "No such item, or not in a department you can see."}},
)
def get_item(
    item_id: PathId, session: SessionDep, principal: PrincipalDep, index: KnowledgeDep
) -> ItemPublic:
    """An item with its lineage: decision (model version, threshold, evidence) and reviews,
    and the passages of its department's documents that bear on it (`evidence_passages`:
    found on the item's first view, then kept as they were)."""
    return service.get_item(session, principal=principal, item_id=item_id, index=index)
