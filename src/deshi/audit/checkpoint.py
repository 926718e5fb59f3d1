"""Incremental verification: remember the verified prefix of the chain, then hash only the rest.

After a verification that passes, `remember_verified` stores where it ended (the last event's seq
and hash, how many events there were up to it, and the state a walk resumes with: the first
keyed event and the unscoped count) in `audit_checkpoints`. `verify_incrementally` first checks
that the stored prefix end still matches: the event at that seq exists with the same hash, and
there are still exactly that many events up to it (a deletion inside the prefix, or a log cut
below it, fails here without hashing anything). Then it hashes only the events after it.

Threat model. The checkpoint row lives in the same database as the events, so whoever can edit
events can edit it too; it adds no trust of its own, it only saves work:

- events after the checkpoint are verified as always; with the keyed chain, forging them (or
  relinking them to an edited prefix) needs the audit key, which the database does not hold;
- an event edited *inside* the prefix is not re-hashed, so the incremental check does not see
  it unless the edit changed the prefix end's hash or the event count. The full verification
  sees it: `deshi audit verify` reads every event (run it on a schedule, where the key is), and
  so does checking an anchor (`deshi audit verify --anchor`), which pins the prefix by hash;
- editing or deleting the checkpoint row makes the next view start over from the first event
  (a missing or mismatched checkpoint is never trusted), or claim a prefix that the checks
  above compare against the stored events.

So "intact" on the audit page means "intact since the last full verification, plus the new
events"; the page says so. The verification reads in a read-only session and the checkpoint is
written afterwards in its own short transaction (`verify_and_remember`), so no write lock is
held while hashing (on SQLite, a reader never blocks an ingest that way).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit.keys import AuditKeyring, keyring_of
from deshi.audit.service import ChainWalk, VerifyResult, verify_chain, walk_events
from deshi.db.base import utcnow
from deshi.db.tables import AuditCheckpoint, AuditEvent

__all__ = ["remember_verified", "verify_and_remember", "verify_incrementally"]

_CHECKPOINT_ID = 1  # one row: the end of the verified prefix


def verify_incrementally(session: Session, *, keyring: AuditKeyring | None = None) -> VerifyResult:
    """Verify the events after the remembered verified prefix (every event when none is
    remembered); not ok when the prefix no longer matches the stored events. Read-only.

    `checked` counts the events hashed in this call; `resumed_after` is the prefix's end.
    """
    keyring = keyring if keyring is not None else keyring_of(session)
    checkpoint = session.get(AuditCheckpoint, _CHECKPOINT_ID)
    if checkpoint is None or checkpoint.head_seq == 0:
        return verify_chain(session, keyring=keyring)
    walk = ChainWalk(
        keyring,
        expected_seq=checkpoint.head_seq + 1,
        prev_hash=checkpoint.head_hash,
        unscoped=checkpoint.unscoped,
        keyed_from=checkpoint.keyed_from,
        resumed_after=checkpoint.head_seq,
    )
    problem = _prefix_problem(session, checkpoint) or walk_events(session, walk)
    return walk.result(problem)


def _prefix_problem(session: Session, checkpoint: AuditCheckpoint) -> tuple[int, str] | None:
    """Why the remembered prefix no longer matches the stored events, as (seq, reason)."""
    end = checkpoint.head_seq
    stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == end))
    if stored is None:
        return end, f"event {end}, verified before, is missing: the log was cut or edited"
    if stored != checkpoint.head_hash:
        return end, f"event {end} changed since it was verified: its hash is not the one verified"
    count = session.scalar(select(func.count()).where(AuditEvent.seq <= end))
    if count != checkpoint.event_count:
        return end, (
            f"{checkpoint.event_count} events up to event {end} were verified, "
            f"{count} are stored now: events inside the verified prefix were deleted or added"
        )
    return None


def remember_verified(session: Session, result: VerifyResult) -> None:
    """Store `result`'s head as the verified prefix (in the caller's transaction, which should
    be short: commit right after). Only a passing result that reaches further is remembered."""
    if not result.ok or result.head_seq == 0:
        return
    checkpoint = session.get(AuditCheckpoint, _CHECKPOINT_ID)
    if checkpoint is not None and checkpoint.head_seq > result.head_seq:
        return
    if checkpoint is None:
        checkpoint = AuditCheckpoint(id=_CHECKPOINT_ID)
        session.add(checkpoint)
    checkpoint.head_seq = result.head_seq
    checkpoint.head_hash = result.head_hash
    checkpoint.event_count = result.head_seq  # seqs run 1..head without gaps, as verified
    checkpoint.keyed_from = result.keyed_from
    checkpoint.unscoped = result.unscoped
    checkpoint.full = result.resumed_after == 0
    checkpoint.verified_at = utcnow()


def verify_and_remember(
    factory: sessionmaker[Session], *, full: bool = False, keyring: AuditKeyring | None = None
) -> VerifyResult:
    """Verify (incrementally, or every event with `full`) in a read-only session, then
    remember the verified prefix in a separate short transaction: nothing holds a write lock
    while the chain is hashed."""
    with factory() as session:
        keys = keyring if keyring is not None else keyring_of(session)
        result = (
            verify_chain(session, keyring=keys)
            if full
            else verify_incrementally(session, keyring=keys)
        )
    if result.ok and result.checked:
        with factory.begin() as session:
            remember_verified(session, result)
    return result
