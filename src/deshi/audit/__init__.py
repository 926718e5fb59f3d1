"""The append-only, hash-chained audit log: `record_event` to append, `verify_chain` to check,
`audit_departments` and `list_events` to read the events a principal may see."""

from deshi.audit.listing import audit_departments, list_events
from deshi.audit.service import ObjectRef, VerifyResult, record_event, snapshot, verify_chain

__all__ = [
    "ObjectRef",
    "VerifyResult",
    "audit_departments",
    "list_events",
    "record_event",
    "snapshot",
    "verify_chain",
]
