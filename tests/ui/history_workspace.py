"""A workspace for the history pages: a first admin, a department, a process without labels, a
reviewer; and a history CSV made from BANKING77."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi.testclient import TestClient

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_first_admin, create_user, grant_role
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.domain import Role
from deshi.processes.service import create_department, create_process

CHEAP: Literal["fast-insecure"] = "fast-insecure"
BANKING77 = Path(__file__).parents[2] / "src/deshi/data/banking77/train.csv"
REVIEWER_PASSWORD = "a long enough password"


@dataclass
class HistoryWorkspace:
    url: str
    admin_password: str
    process_id: int


def make_workspace(directory: Path) -> HistoryWorkspace:
    """The schema, its first admin, department 1 with process 1 (no labels) and a reviewer."""
    url = f"sqlite:///{directory}/history.db"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    hasher = PasswordHasher(CHEAP)
    with transaction(make_session_factory(engine)) as session:
        first = create_first_admin(session, email="admin@example.com", password_hasher=hasher)
        department = create_department(session, actor="test", name="Support")
        process = create_process(
            session, actor="test", department_id=department.id, name="routing", labels=[]
        )
        reviewer = create_user(
            session,
            actor="test",
            email="rev@example.com",
            display_name="Rev",
            password=REVIEWER_PASSWORD,
            password_hasher=hasher,
        )
        grant_role(
            session, actor="test", user_id=reviewer.id, role=Role.REVIEWER,
            department_id=department.id,
        )  # fmt: skip
        process_id = process.id
    engine.dispose()
    return HistoryWorkspace(url, first.password, process_id)


def history_csv(labels: int = 4, per_label: int = 30, flip_every: int = 0) -> bytes:
    """BANKING77 rows of the first `labels` intents as a CSV with ticket, body and intent."""
    with BANKING77.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    chosen = sorted({r["category"] for r in rows})[:labels]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ticket", "body", "intent"])
    i = 0
    for c, label in enumerate(chosen):
        for r in [r for r in rows if r["category"] == label][:per_label]:
            given = chosen[(c + 1) % len(chosen)] if flip_every and i % flip_every == 0 else label
            writer.writerow([f"T{i}", r["text"], given])
            i += 1
    return out.getvalue().encode()


def csrf(html: str) -> str:
    """The page's CSRF token."""
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, email: str, password: str) -> None:
    """Sign in through the login form."""
    token = csrf(client.get("/login").text)
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
