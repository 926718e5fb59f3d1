"""Personal data found in text, replaced by placeholders before the text leaves the workspace,
and put back into the answer that comes back (`deshi.privacy.pii`)."""

from deshi.privacy.pii import Finding, Kind, Redaction, Redactor, find_pii, redact, restore

__all__ = ["Finding", "Kind", "Redaction", "Redactor", "find_pii", "redact", "restore"]
