"""One cached agent per process, kept in step with the database across OS processes.

A registry is an explicit object, never a module global: `create_app` builds one (or takes the
one it is given) and hands it to routes through a dependency; `deshi worker`, `deshi model` and
the demo build their own. It is also the extension point for the decider: every agent it builds
fits `make_decider()` (`LinearDecider` by default), so another `deshi.engine.Decider` (an LLM
prompted with the retrieved cases, say) runs with the same memory, calibration and guarantee by
passing `AgentRegistry(make_decider=...)` to `create_app`.

Several API and worker processes may serve one PostgreSQL database. Each keeps its own
`AgentRegistry`; before an agent is used, the registry runs three cheap queries:

1. the newest and the champion model version: if the process's policy or `memory_epoch`
   changed (an answer was undone, so a label must leave the case memory), or versions went
   back, the agent is rebuilt from the history with `Agent.restore`;
2. reviews not taken in yet: each new final label goes to `agent.record` (into the case
   memory at once);
3. auto-completed decisions not taken in yet: recorded unlabelled.

If only new versions appeared or the champion moved (a retrain or a rollback made elsewhere),
the caught-up agent takes the new versions in with `Agent.adopt`: the same agent a restore
would build, without replaying the history.

"Not taken in yet" is tracked by an `IdCursor` per table: the highest id seen plus the ids
below it that were not visible yet. On PostgreSQL a review can commit after a later-numbered
one was already read (ids are handed out at insert), and the cursor asks for it again until it
shows up, so it still reaches the memory of every process.

Each process id has its own lock, held while its agent is synced and used. If the caller's
transaction does not commit after the agent was changed in it (`mark_dirty`), the agent is
dropped and rebuilt from the database on next use, so memory never runs ahead of storage.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import QueuePool

from deshi.db import transaction
from deshi.db.tables import Decision, Item, Process, Review
from deshi.engine import (
    DEFAULT_POLICY,
    Agent,
    AgentConfig,
    MonitorState,
    Observation,
    TrainedModel,
)
from deshi.engine.agent import RESIDENT_VERSIONS
from deshi.engine.heap import release_free_heap
from deshi.engine.learn import LinearDecider
from deshi.engine.serialize import load_model
from deshi.engine.training import DeciderFactory
from deshi.errors import ValidationFailed
from deshi.learning import repo
from deshi.learning.cursor import IdCursor
from deshi.learning.repo import VersionState

__all__ = ["AgentEntry", "AgentRegistry", "config_for"]

logger = logging.getLogger("deshi.learning")

_DIRTY = "deshi.learning.dirty"  # session.info key: {(registry, process_id), ...}


def config_for(process: Process, *, training_threads: int | None = None) -> AgentConfig:
    """The engine configuration that follows from a process's policy; a retrain fits
    `training_threads` deciders at once (None: one per CPU)."""
    try:
        return AgentConfig(
            policy=process.policy,
            featurizer=process.featurizer,
            sensitive_labels=frozenset(str(label) for label in process.sensitive_labels or ()),
            training_threads=training_threads,
        )
    except ValueError as exc:
        raise ValidationFailed(f"process {process.id} has an invalid policy: {exc}") from exc


@dataclass(slots=True)
class AgentEntry:
    """A process's agent plus what it has taken in from the database."""

    process_id: int
    agent: Agent
    config: AgentConfig
    state: VersionState
    review_cursor: IdCursor
    decision_cursor: IdCursor
    recorded_items: set[int]
    stored_versions: set[int] = field(default_factory=set)
    default_audit_rate: float = DEFAULT_POLICY.audit_rate
    memory_epoch: int = 0  # the process's `memory_epoch` this agent was built at

    def record(self, observation: Observation, item_id: int) -> None:
        """Give the agent one decided item, at most once per item."""
        if item_id in self.recorded_items:
            return
        self.agent.record(observation)
        self.recorded_items.add(item_id)

    def unstored_versions(self) -> list[TrainedModel]:
        """Versions the agent trained in this process that are not in the database yet."""
        return [m for m in self.agent.versions if m.version not in self.stored_versions]


class AgentRegistry:
    """An in-process cache of agents, one per process id, each behind its own lock; every agent
    fits deciders made by `make_decider` (called with no arguments, once per fit), up to
    `training_threads` at once in a retrain (None: one per CPU; `DESHI_TRAINING_THREADS`)."""

    def __init__(
        self, *, make_decider: DeciderFactory = LinearDecider, training_threads: int | None = None
    ) -> None:
        self.make_decider = make_decider
        self.training_threads = training_threads
        self._entries: dict[int, AgentEntry] = {}
        self._locks: dict[int, threading.RLock] = {}
        self._guard = threading.Lock()

    def sibling(self) -> AgentRegistry:
        """A registry with the same decider factory and agents and locks of its own.

        For a background worker inside the API's OS process: a retrain holds its process's
        lock for as long as it trains, and on the API's registry every request deciding that
        process's items would wait for it (on SQLite while holding the write lock the retrain
        needs to store its version). The two registries stay in step through the database.
        """
        return AgentRegistry(make_decider=self.make_decider, training_threads=self.training_threads)

    @contextmanager
    def agent(self, session: Session, process: Process) -> Iterator[AgentEntry]:
        """Hold the process's lock and yield its agent, synced with the database."""
        with self._lock_for(process.id):
            yield self._synced(session, process)

    @contextmanager
    def holding(self, process_id: int) -> Iterator[None]:
        """Hold a process's lock across several transactions (the lock is re-entrant, so
        `agent()` may be used inside)."""
        with self._lock_for(process_id):
            yield

    def warm(self, factory: sessionmaker[Session], stop: threading.Event | None = None) -> int:
        """Build the agent of every process that is not archived and has a model, one after
        the other, until done or `stop` is set; returns how many were built.

        A server calls it in a thread at start, so the first answer after a restart does not
        wait for the agent's restore. A request for a process being built waits for it on the
        process's lock, as it would have waited for its own restore. A process that fails to
        build is logged and left to its first request, which reports the error itself.
        """
        try:
            with transaction(factory, lock_early=False) as session:
                process_ids = repo.processes_with_models(session)
        except Exception:  # e.g. a database not initialised yet: requests will say so
            logger.exception("could not list the processes to build their agents at start")
            return 0
        return self._sync_each(
            factory, process_ids, stop, failure="could not build the agent of process %s at start"
        )

    def refresh(self, factory: sessionmaker[Session], stop: threading.Event | None = None) -> int:
        """Bring every agent held here up to date with the database, as its next request would:
        the reviews and decisions committed since its last use, and the versions stored
        elsewhere (a retrain in the worker's child process, a rollback on another server),
        taken in without a rebuild. Returns how many were brought up to date.

        A server calls it every few seconds (`keep_current`), so that the new versions of a
        retrain made elsewhere are taken in between the reviewer's answers rather than by the
        first answer after it, which took 0.14-0.36 s on a demo workspace when it did
        (docs/benchmarks.md, "Workbench round trip").
        """
        return self._sync_each(
            factory, sorted(self.loaded()), stop, failure="could not update the agent of process %s"
        )

    def keep_current(
        self, factory: sessionmaker[Session], stop: threading.Event, every: float
    ) -> None:
        """Build the agents (`warm`), then `refresh` them every `every` seconds until `stop` is
        set (0: build only). A long-running server runs it in a thread of its own."""
        self.warm(factory, stop)
        while every > 0 and not stop.wait(every):
            self.refresh(factory, stop)

    def _sync_each(
        self,
        factory: sessionmaker[Session],
        process_ids: list[int],
        stop: threading.Event | None,
        *,
        failure: str,
    ) -> int:
        """Sync each unarchived process's agent in a read transaction of its own, until done or
        `stop`; a failure is logged (`failure` % process id), never raised: this runs beside
        the requests, which report their own errors."""
        synced = 0
        for process_id in process_ids:
            if stop is not None and stop.is_set():
                break
            try:
                with transaction(factory, lock_early=False) as session:
                    process = session.get(Process, process_id)
                    if process is None or process.archived_at is not None:
                        continue
                    with self.agent(session, process):
                        synced += 1
            except Exception:
                logger.exception(failure, process_id)
        return synced

    def loaded(self) -> frozenset[int]:
        """Ids of the processes whose agent is in memory here."""
        with self._guard:
            return frozenset(self._entries)

    def held_state(self, process_id: int) -> VersionState | None:
        """The model versions the agent held here was built or last brought up to date at; None
        when none is held."""
        with self._guard:
            entry = self._entries.get(process_id)
        return None if entry is None else entry.state

    def monitor_states(self) -> dict[int, MonitorState]:
        """The audit monitor's state of every agent loaded here, as of its last use or refresh;
        agents not built since this registry was are absent (nothing is loaded to answer)."""
        with self._guard:
            entries = list(self._entries.values())
        return {entry.process_id: entry.agent.monitor_state for entry in entries}

    def invalidate(self, process_id: int) -> None:
        """Forget a process's agent; it is rebuilt from the database on next use."""
        with self._guard:
            self._entries.pop(process_id, None)

    def mark_dirty(self, session: Session, process_id: int) -> None:
        """The agent is about to change inside `session`'s transaction: drop it unless that
        transaction commits."""
        dirty: set[tuple[AgentRegistry, int]] = session.info.setdefault(_DIRTY, set())
        if not event.contains(session, "after_transaction_end", _forget_unless_committed):
            event.listen(session, "after_commit", _clear_dirty)
            event.listen(session, "after_transaction_end", _forget_unless_committed)
        dirty.add((self, process_id))

    def _lock_for(self, process_id: int) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(process_id, threading.RLock())

    def _synced(self, session: Session, process: Process) -> AgentEntry:
        config = config_for(process, training_threads=self.training_threads)
        state = repo.version_state(session, process.id)
        with self._guard:
            entry = self._entries.get(process.id)
        if (
            entry is None
            or entry.config != config
            or entry.memory_epoch != process.memory_epoch
            or not _adoptable(entry.state, state)
        ):
            with self._guard:  # the old agent goes first: two alive at once double the peak
                replaced = self._entries.pop(process.id, None) is not None
            entry = None  # and this frame's reference to it
            if replaced:  # before the build, which pauses the collector
                gc.collect()
            with _cycle_collection_paused():
                entry = self._load(session, process, config, state)
            with self._guard:
                self._entries[process.id] = entry
            release_free_heap()
            return entry
        self._catch_up(session, entry)
        if entry.state != state:
            self._adopt(session, entry, state)
            _give_back_freed_memory()
        return entry

    def _load(
        self, session: Session, process: Process, config: AgentConfig, state: VersionState
    ) -> AgentEntry:
        versions = repo.resident_versions(
            session, process.id, newest=RESIDENT_VERSIONS, champion=state.champion
        )
        engine = _postgres_engine(session)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deshi-restore") as pool:
            # On PostgreSQL the server assembles a large artifact while this process waits
            # (0.4–0.5 s of a 175 MB one), so another connection reads it meanwhile.
            aside = pool.submit(_artifacts_aside, engine, process.id, versions) if engine else None
            history = repo.load_history(session, process.id, default_audit_rate=process.audit_rate)
            artifacts = aside.result() if aside is not None else None
        if artifacts is None or list(artifacts) != versions:
            # SQLite, or versions this session wrote and has not committed: read them here.
            artifacts = repo.load_artifacts(session, process.id, versions)
        models: list[TrainedModel] = [load_model(artifact) for artifact in artifacts.values()]
        agent = Agent.restore(
            config,
            history.observations,
            versions=models,
            champion_version=state.champion,
            make_decider=self.make_decider,
        )
        return AgentEntry(
            process_id=process.id,
            agent=agent,
            config=config,
            state=state,
            review_cursor=history.review_cursor,
            decision_cursor=history.decision_cursor,
            recorded_items=history.recorded_items,
            stored_versions=set(repo.version_ids(session, process.id)),
            default_audit_rate=process.audit_rate,
            memory_epoch=process.memory_epoch,
        )

    def _adopt(self, session: Session, entry: AgentEntry, state: VersionState) -> None:
        """Take versions stored elsewhere (a retrain in a worker or a child process, a rollback)
        into the agent in memory, which has just caught up with the database: only the new
        versions' artifacts are read, and the history is not replayed. Rebuilding from the
        history after every retrain grew a long-running server at each one, as the allocators
        kept what each rebuild freed (docs/benchmarks.md, "Soak")."""
        assert state.champion is not None  # `_adoptable`
        held = {model.version for model in entry.agent.versions}
        versions = repo.resident_versions(
            session, entry.process_id, newest=RESIDENT_VERSIONS, champion=state.champion, skip=held
        )
        artifacts = repo.load_artifacts(session, entry.process_id, versions)
        entry.agent.adopt([load_model(artifact) for artifact in artifacts.values()], state.champion)
        entry.state = state
        entry.stored_versions = set(repo.version_ids(session, entry.process_id))

    def _catch_up(self, session: Session, entry: AgentEntry) -> None:
        """Take in reviews and auto-completions committed since the agent last looked.

        Each table's visible ids are read before its rows: a row committed between the two
        reads is then either read as a row or left as a gap to ask for again, never skipped.
        """
        now = time.monotonic()
        above, gaps = entry.review_cursor.wanted(now)
        visible = repo.visible_ids(session, Review.id, above, gaps)
        reviews = repo.labelled_reviews_since(session, entry.process_id, above, gaps)
        entry.review_cursor.saw([*visible, *(r.id for r in reviews)], now)
        fresh = [r for r in reviews if r.item_id not in entry.recorded_items]
        decisions = repo.latest_decisions(session, (r.item_id for r in fresh))
        for review in fresh:
            row = decisions.get(review.item_id)
            item = session.get(Item, review.item_id)
            if row is None or item is None or review.item_id in entry.recorded_items:
                continue
            observation = repo.observation_of(
                item, row, label=review.final_label, default_audit_rate=entry.default_audit_rate
            )
            entry.record(observation, item.id)
        above, gaps = entry.decision_cursor.wanted(now)
        visible = repo.visible_ids(session, Decision.id, above, gaps)
        autos = repo.auto_decisions_since(session, entry.process_id, above, gaps)
        entry.decision_cursor.saw([*visible, *(d.id for d, _, _ in autos)], now)
        for decision, version, item in autos:
            observation = repo.observation_of(
                item, (decision, version), label=None, default_audit_rate=entry.default_audit_rate
            )
            entry.record(observation, item.id)


def _postgres_engine(session: Session) -> Engine | None:
    """The session's engine when it is PostgreSQL's and a connection of its own can be had at
    once: one idle in the pool, or room to open one below the pool's size (a checkout past it
    could wait for a busy server's requests to give one back)."""
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return None
    pool = bind.pool
    free = isinstance(pool, QueuePool) and (pool.checkedin() > 0 or pool.overflow() < 0)
    return bind if free else None


def _artifacts_aside(
    engine: Engine, process_id: int, versions: list[int]
) -> dict[int, bytes] | None:
    """The versions' artifacts read on another connection, or None if that failed (the
    caller reads them on its own). Versions are immutable once stored, so another snapshot
    gives the same files; one written by the caller's open transaction is missing here."""
    try:
        with Session(engine) as aside:
            return repo.load_artifacts(aside, process_id, versions)
    except SQLAlchemyError:
        logger.warning("reading model versions on a second connection failed", exc_info=True)
        return None


def _adoptable(held: VersionState, stored: VersionState) -> bool:
    """Whether an agent built at `held` can take in what changed to reach `stored` without a
    rebuild: versions were only added or the champion moved to one that exists. Versions that
    went back (a restored backup) or a process left without a champion mean a rebuild."""
    if held == stored:
        return True
    if stored.champion is None or stored.latest is None:
        return False
    return held.latest is None or stored.latest >= held.latest


def _give_back_freed_memory() -> None:
    """After an agent took in new versions: collect what it dropped (the old champion's
    index) and hand the C heap's free pages back to the system. glibc kept what each rebuild
    freed: rebuilding an agent of 2,400 cases 12 times grew a process by 91 MiB, and by
    26 MiB with this after each rebuild (2026-12-05, the soak's database; a rebuild now
    collects the old agent before it builds the new one, and gives the pages back after).
    New versions are rare next to requests, and this costs milliseconds to a few tens of
    them (0.1 s for the collection at 100,000 cases)."""
    gc.collect()
    release_free_heap()


class _CycleCollectionPause:
    """Python's cycle collector paused while agents are built, in whichever threads build them.

    A restore makes about a million objects (an observation and its strings per case), and the
    collector, run by allocations, walked the growing heap again and again: 0.25 s of reading
    a 100,000-case history. The objects made live on with the agent, so there is nothing to
    collect. The collector runs again when the last build ends, if it ran before the first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._builds = 0
        self._was_enabled = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._builds == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._builds += 1
        try:
            yield
        finally:
            with self._lock:
                self._builds -= 1
                if self._builds == 0 and self._was_enabled:
                    gc.enable()


_cycle_collection_paused = _CycleCollectionPause()


def _clear_dirty(session: Session) -> None:
    session.info.pop(_DIRTY, None)


def _forget_unless_committed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    for registry, process_id in session.info.pop(_DIRTY, set()):
        registry.invalidate(process_id)
