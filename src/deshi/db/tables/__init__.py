"""Every table of deshi, importable from one place (Alembic reads `Base.metadata` from here)."""

from deshi.db.base import Base
from deshi.db.tables.checks import DriftState, GoLiveCheck
from deshi.db.tables.drafts import DraftAutosendState, DraftVerdict, StoredDraft
from deshi.db.tables.history import HistoryImport, LabelFlag
from deshi.db.tables.inventory import InventoryCandidate
from deshi.db.tables.knowledge import KnowledgeDocument, KnowledgePassage, KnowledgeVersion
from deshi.db.tables.kpis import KpiSnapshot
from deshi.db.tables.ops import (
    AuditCheckpoint,
    AuditEvent,
    DeliveryStatus,
    Job,
    JobStatus,
    Webhook,
    WebhookDelivery,
)
from deshi.db.tables.org import ApiToken, Department, RoleGrant, User
from deshi.db.tables.sessions import LoginThrottle, UserSession
from deshi.db.tables.work import Decision, Item, ModelVersion, Process, Review

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "Base",
    "Decision",
    "DeliveryStatus",
    "Department",
    "DraftAutosendState",
    "DraftVerdict",
    "DriftState",
    "GoLiveCheck",
    "HistoryImport",
    "InventoryCandidate",
    "Item",
    "Job",
    "JobStatus",
    "KnowledgeDocument",
    "KnowledgePassage",
    "KnowledgeVersion",
    "KpiSnapshot",
    "LabelFlag",
    "LoginThrottle",
    "ModelVersion",
    "Process",
    "Review",
    "RoleGrant",
    "StoredDraft",
    "User",
    "UserSession",
    "Webhook",
    "WebhookDelivery",
]
