"""History routes: import a team's labelled past work (JSON rows or a file), see what was
imported, and work through the label audit (issue #22)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from deshi.db import transaction
from deshi.domain import FlagStatus
from deshi.history import audit, service
from deshi.history.models import (
    FlagResolve,
    HistoryBatchCreate,
    HistoryState,
    HistorySummary,
    LabelFlagPublic,
    RetrainPublic,
)
from deshi.history.reader import ColumnMap, detect_format, mapped_rows, open_table
from deshi.processes.service import get_process_for
from deshi.web.deps import FactoryDep, PrincipalDep, RegistryDep, SessionDep
from deshi.web.params import PathId

__all__ = ["router"]

router = APIRouter(prefix="/processes/{process_id}/history", tags=["history"])

_BAD_INPUT: dict[int | str, dict[str, Any]] = {
    422: {"description": "Bad input, naming the row or column; nothing was imported."}
}


@router.post(":batch", response_model=HistorySummary, responses=_BAD_INPUT)
def import_rows(
    process_id: PathId,
    body: HistoryBatchCreate,
    factory: FactoryDep,
    principal: PrincipalDep,
    registry: RegistryDep,
) -> HistorySummary:
    """Import up to 5,000 labelled rows as completed history items, all-or-nothing, idempotent
    on `external_id`; then retrain (threshold calibrated on the history) and audit the labels.
    Needs manage_process (owners and admins)."""
    return service.import_history_for(
        factory,
        principal=principal,
        process_id=process_id,
        rows=service.rows_of_batch(body.rows),
        registry=registry,
        source="api",
        add_labels=body.add_labels,
        train=body.retrain,
        audit_labels=body.audit,
    )


@router.post(":upload", response_model=HistorySummary, responses=_BAD_INPUT)
def import_file(
    process_id: PathId,
    file: Annotated[UploadFile, File(description="A .csv, .tsv, .jsonl or .xlsx file.")],
    text_col: Annotated[str, Form(min_length=1, max_length=200)],
    label_col: Annotated[str, Form(min_length=1, max_length=200)],
    factory: FactoryDep,
    principal: PrincipalDep,
    registry: RegistryDep,
    id_col: Annotated[str | None, Form(max_length=200)] = None,
    time_col: Annotated[str | None, Form(max_length=200)] = None,
    field_col: Annotated[list[str] | None, Form(max_length=200)] = None,
    handling_col: Annotated[str | None, Form(max_length=200)] = None,
    add_labels: Annotated[bool, Form()] = False,
    audit: Annotated[bool, Form()] = True,
) -> HistorySummary:
    """Import a history file (multipart), streamed in batches, with the same rules as `:batch`:
    the columns named here map to text, label, id, time, structured fields and handling
    seconds."""
    with transaction(factory) as session:  # who may import, before the file is read
        get_process_for(session, principal, process_id, service.IMPORT_ACTION)
    name = file.filename or "upload"
    table = open_table(file.file, detect_format(name))
    mapping = ColumnMap(
        text=text_col,
        label=label_col,
        id=id_col or None,
        time=time_col or None,
        fields=tuple(c for c in field_col or () if c),
        handling=handling_col or None,
    )
    return service.import_history_for(
        factory,
        principal=principal,
        process_id=process_id,
        rows=mapped_rows(table, mapping),
        registry=registry,
        source=name,
        table=table,
        add_labels=add_labels,
        audit_labels=audit,
    )


@router.get("", response_model=HistoryState)
def state(process_id: PathId, session: SessionDep, principal: PrincipalDep) -> HistoryState:
    """The process's imported history: items, labels, the label audit and recent imports."""
    return service.history_state_for(session, principal=principal, process_id=process_id)


@router.get("/flags", response_model=list[LabelFlagPublic])
def flags(
    process_id: PathId,
    session: SessionDep,
    principal: PrincipalDep,
    status: FlagStatus | None = FlagStatus.OPEN,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LabelFlagPublic]:
    """History rows whose label the audit doubts, most suspicious first (manage_process)."""
    return audit.list_flags_for(
        session, principal=principal, process_id=process_id, status=status, limit=limit
    )


@router.post("/flags/{flag_id}", response_model=LabelFlagPublic)
def resolve(
    process_id: PathId,
    flag_id: PathId,
    body: FlagResolve,
    session: SessionDep,
    principal: PrincipalDep,
) -> LabelFlagPublic:
    """Confirm a flagged label or correct it (audited); retrain afterwards to apply."""
    return audit.resolve_flag_for(
        session, principal=principal, process_id=process_id, flag_id=flag_id, answer=body
    )


@router.post(":retrain", response_model=RetrainPublic)
def retrain(
    process_id: PathId, factory: FactoryDep, principal: PrincipalDep, registry: RegistryDep
) -> RetrainPublic:
    """Retrain on the history as corrected (manage_models); audited as every retrain."""
    return audit.retrain_after_audit_for(
        factory, principal=principal, process_id=process_id, registry=registry
    )
