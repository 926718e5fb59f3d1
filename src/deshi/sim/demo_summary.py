"""The summary `deshi demo` prints and writes with `--json`: counts read from the database plus
the KPIs, recommendation and warnings exactly as the `deshi.kpis` use cases compute them."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db.tables import Item, ModelVersion, Review
from deshi.domain import ItemOrigin, ItemStatus, ModelStatus
from deshi.kpis.context import get_process
from deshi.kpis.kpi_report import kpi_report
from deshi.kpis.process_warnings import process_warnings

__all__ = ["summarize"]


def summarize(factory: sessionmaker[Session], *, process_id: int, now: datetime) -> dict[str, Any]:
    """Live items (the imported history counted apart), automation, audited auto error,
    reviews, model versions, KPIs and warnings."""
    with factory() as session:
        process = get_process(session, process_id)
        report = kpi_report(session, process)
        warnings = process_warnings(session, process, now=now)
        statuses = _item_statuses(session, process_id)
        history = session.scalar(
            select(func.count())
            .select_from(Item)
            .where(Item.process_id == process_id, Item.origin == ItemOrigin.HISTORY.value)
        )
        reviews = _reviews(session, process_id)
        versions = _versions(session, process_id)
    overall = report.overall
    automation = overall.product.automation
    auto_error = overall.model.auto_error
    return {
        "process_id": process_id,
        "items": {"total": sum(statuses.values()), **statuses},
        "history_items": int(history or 0),
        "automation": None if automation is None else automation.value,
        "auto_error_from_audits": None if auto_error is None else auto_error.model_dump(),
        "reviews": reviews,
        "model_versions": versions,
        "per_week": [
            {
                "week": week.week,
                "items": week.items,
                "automation": _value(week.product.automation),
                "accuracy": _value(week.model.accuracy),
            }
            for week in report.weeks
        ],
        "kpis": overall.model_dump(mode="json"),
        "recommendation": report.recommendation.model_dump(mode="json"),
        "warnings": [warning.model_dump(mode="json") for warning in warnings],
    }


def _value(metric: Any) -> float | None:
    return None if metric is None else float(metric.value)


def _item_statuses(session: Session, process_id: int) -> dict[str, int]:
    query = (
        select(Item.status, func.count())
        .where(Item.process_id == process_id, Item.origin == ItemOrigin.LIVE.value)
        .group_by(Item.status)
    )
    counts = {status.value: 0 for status in (ItemStatus.AUTO_COMPLETED, ItemStatus.COMPLETED)}
    counts[ItemStatus.QUEUED.value] = 0
    for status, count in session.execute(query):
        counts[ItemStatus(status).value] = int(count)
    return counts


def _reviews(session: Session, process_id: int) -> dict[str, Any]:
    query = (
        select(Review.action, Review.blind, Review.seconds)
        .join(Item, Item.id == Review.item_id)
        .where(Item.process_id == process_id)
    )
    rows = list(session.execute(query))
    seconds = [float(row.seconds) for row in rows if row.seconds is not None]
    return {
        "total": len(rows),
        "blind": sum(1 for row in rows if row.blind),
        "accepted": sum(1 for row in rows if not row.blind and row.action.value == "accept"),
        "corrected": sum(1 for row in rows if not row.blind and row.action.value == "correct"),
        "median_seconds": statistics.median(seconds) if seconds else None,
        "hours": round(sum(seconds) / 3600, 1),
    }


def _versions(session: Session, process_id: int) -> dict[str, Any]:
    rows = list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.process_id == process_id)
            .order_by(ModelVersion.version)
        )
    )
    champion = next((row for row in rows if row.status is ModelStatus.CHAMPION), None)
    return {
        "count": len(rows),
        "champion": None if champion is None else champion.version,
        "champion_threshold": None if champion is None else champion.threshold,
        "champion_trained_on": None if champion is None else champion.trained_on,
    }
