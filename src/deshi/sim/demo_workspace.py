"""The demo's workspace: a directory holding `deshi.db` and a marker file, and the people and
process the demo sets up in it through the same services as the API.

The marker (`.deshi-demo`) is written before the database is created, so a workspace is known
to be a demo even when a run was interrupted; a database without it is never touched.

While the demo builds, its database is not durable (`relax_durability`): a crash then leaves a
workspace whose marker says it did not finish, which is rebuilt from scratch anyway, so a
commit need not wait for the disk. `make_durable` writes everything to the database file with
the usual durable settings before the marker records the demo as finished; the server opens its
own connections, which get the durable pragmas of `deshi.db.engine` again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from deshi.auth.service import create_first_admin, create_user, grant_role, load_principal
from deshi.db import create_db_engine
from deshi.db.tables import Department, Process, User
from deshi.domain import Mode, Role, Stage
from deshi.engine import DEFAULT_POLICY
from deshi.knowledge import KnowledgeIndex
from deshi.knowledge.service import SourceFile, store_documents
from deshi.permissions import Principal
from deshi.processes.models import ProcessCreate, ProcessUpdate
from deshi.processes.service import create_department, create_process_for, update_process

__all__ = [
    "DB_FILE",
    "MARKER_FILE",
    "DemoPeople",
    "WorkspaceExistsError",
    "completed_demo",
    "make_durable",
    "mark_completed",
    "prepare_workspace",
    "refresh_statistics",
    "relax_durability",
    "set_up_organisation",
    "store_demo_knowledge",
]

DB_FILE = "deshi.db"
MARKER_FILE = ".deshi-demo"
DEPARTMENT = "Customer service"
PROCESS = "Card and account inquiries"
DESCRIPTION = (
    "Route a customer's message about their card or account to one of 77 intents "
    "(BANKING77). Simulated by `deshi demo`."
)
LOGIN_EMAIL = "demo@deshi.example"
REVIEWERS = (
    ("aiko.tanaka@deshi.example", "Aiko Tanaka"),
    ("ben.okafor@deshi.example", "Ben Okafor"),
)
AUDITOR = ("carla.ruiz@deshi.example", "Carla Ruiz")
POLICY = ProcessUpdate(
    mode=Mode.AUTOPILOT,
    error_budget=DEFAULT_POLICY.error_budget,  # ε
    confidence=DEFAULT_POLICY.confidence,  # 1 - δ
    audit_rate=DEFAULT_POLICY.audit_rate,
    arms={"human_only": 0.1, "assisted": 0.2, "ai_led": 0.7},
    hourly_rate=32.0,
    cost_per_escaped_error=25.0,
    running_cost_per_week=100.0,  # a small server and its upkeep, stated for the demo
    currency="USD",
    stage=Stage.LIMITED_PRODUCTION,
)


class WorkspaceExistsError(Exception):
    """The workspace already holds a database that this run must not overwrite."""


def prepare_workspace(directory: Path, *, fresh: bool) -> Path:
    """Make `directory` ready for a new demo database and return the database's path.

    An existing demo database is removed only with `fresh`; any other database is refused.
    """
    db_path = directory / DB_FILE
    siblings = [db_path.with_name(db_path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
    if db_path.exists():
        if not (directory / MARKER_FILE).exists():
            raise WorkspaceExistsError(
                f"{db_path} exists and was not made by `deshi demo`; choose another --workspace"
            )
        if not fresh:
            raise WorkspaceExistsError(
                f"{db_path} holds a demo that did not finish building; pass --fresh to recreate it"
            )
    for path in (db_path, *siblings):
        path.unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    marker = {"created_by": "deshi demo", "database": DB_FILE}
    (directory / MARKER_FILE).write_text(json.dumps(marker) + "\n", encoding="utf-8")
    return db_path


def completed_demo(directory: Path) -> Path | None:
    """The database of a demo that finished building in `directory`, or None."""
    db_path, marker = directory / DB_FILE, directory / MARKER_FILE
    if not (db_path.exists() and marker.exists()):
        return None
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return db_path if isinstance(recorded, dict) and recorded.get("completed_at") else None


def mark_completed(directory: Path, when: datetime) -> None:
    """Record in the marker that the demo finished building, so a later `deshi demo` serves
    it again instead of rebuilding it."""
    marker = {"created_by": "deshi demo", "database": DB_FILE, "completed_at": when.isoformat()}
    (directory / MARKER_FILE).write_text(json.dumps(marker) + "\n", encoding="utf-8")


def relax_durability(engine: Engine) -> None:
    """Let the demo's connections commit without waiting for the disk (synchronous=OFF).

    The demo commits over a thousand times (every ingest, its backdating, every visit of the
    reviewers); with the durable default each commit waits for an fsync. The pragma is per
    connection: it runs after the engine's own pragmas and dies with the demo's engine.
    """

    @event.listens_for(engine, "connect")
    def _no_sync(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA synchronous=OFF")
        finally:
            cursor.close()


def refresh_statistics(session: Session) -> None:
    """Give SQLite's query planner statistics of the tables as they stand (ANALYZE).

    Without them the planner reads the agent's catch-up queries ("reviews of this process
    above id N") by scanning every item of the process, so each of the thousands of answers
    costs more as the demo grows; with them it walks the few new rows by id."""
    session.execute(text("ANALYZE"))


def make_durable(db_path: Path) -> None:
    """Leave the finished demo on disk as any deshi database: without the simulation's planner
    statistics, with the write-ahead log moved into the database file on a durable connection,
    and the file synced (the simulation's last connection may have checkpointed the log into
    it without syncing when it closed)."""
    engine = create_db_engine(f"sqlite:///{db_path}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    with db_path.open("rb+") as database:
        os.fsync(database.fileno())


@dataclass(frozen=True, slots=True)
class DemoPeople:
    """Who works on the demo process; only the login has a password."""

    owner: Principal
    reviewers: tuple[Principal, ...]
    login_email: str
    login_password: str
    process_id: int
    department_id: int


def set_up_organisation(
    session: Session,
    *,
    labels: list[str],
    since: datetime,
    error_budget: float = DEFAULT_POLICY.error_budget,
) -> DemoPeople:
    """Create the login (workspace admin and process owner), reviewers, an auditor, the
    department and the process with the demo policy; backdate them to `since`."""
    admin = create_first_admin(session, email=LOGIN_EMAIL, display_name="Demo owner")
    actor = f"user:{admin.user.id}"
    department = create_department(session, actor=actor, name=DEPARTMENT)
    grant_role(
        session, actor=actor, user_id=admin.user.id, role=Role.OWNER, department_id=department.id
    )
    reviewers = []
    for email, name in REVIEWERS:
        user = create_user(session, actor=actor, email=email, display_name=name)
        grant_role(
            session, actor=actor, user_id=user.id, role=Role.REVIEWER, department_id=department.id
        )
        reviewers.append(load_principal(session, user.id))
    auditor = create_user(session, actor=actor, email=AUDITOR[0], display_name=AUDITOR[1])
    grant_role(
        session, actor=actor, user_id=auditor.id, role=Role.AUDITOR, department_id=department.id
    )
    owner = load_principal(session, admin.user.id)
    created = ProcessCreate(
        department_id=department.id, name=PROCESS, description=DESCRIPTION, labels=labels
    )
    process = create_process_for(session, principal=owner, data=created)
    policy = POLICY.model_copy(update={"error_budget": error_budget})
    update_process(session, principal=owner, process_id=process.id, changes=policy)
    _backdate(session, since, department=department, process=process)
    return DemoPeople(
        owner=owner,
        reviewers=tuple(reviewers),
        login_email=admin.user.email,
        login_password=admin.password,
        process_id=process.id,
        department_id=department.id,
    )


def store_demo_knowledge(session: Session, *, actor: str, department_id: int) -> int:
    """Store the policy pages written for the demo (deshi/data/demo_knowledge) in the
    department's knowledge base, so the workbench drafts replies with citations; returns how
    many documents were stored."""
    folder = resources.files("deshi") / "data" / "demo_knowledge"
    files = [
        SourceFile(entry.name, entry.read_bytes())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".md") and entry.name != "README.md"
    ]
    store_documents(
        session, actor=actor, department_id=department_id, files=files, index=KnowledgeIndex()
    )
    return len(files)


def _backdate(
    session: Session, since: datetime, *, department: Department, process: Process
) -> None:
    """Rows are stamped when the demo runs; the story starts `since` (the audit log is not
    touched: its timestamps are hashed and tell when the demo really ran)."""
    department.created_at = since
    process.created_at = since
    for user in session.query(User):
        user.created_at = since
    session.flush()
