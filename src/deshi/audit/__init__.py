"""The append-only, hash-chained audit log: `record_event` to append, `verify_chain` to check."""

from deshi.audit.service import ObjectRef, VerifyResult, record_event, snapshot, verify_chain

__all__ = ["ObjectRef", "VerifyResult", "record_event", "snapshot", "verify_chain"]
