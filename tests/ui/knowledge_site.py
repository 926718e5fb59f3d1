"""The Knowledge pages' test workspace: two departments, an owner and a reviewer in one, an
owner in the other (shared by the page tests and the browser test)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_user, grant_role
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.domain import Role
from deshi.processes.service import create_department
from fakes import CHEAP_HASHING

__all__ = ["PASSWORD", "POLICY", "Site", "make_site"]

PASSWORD = "a long enough password"
POLICY = "# 返金\n返金は十四日以内に支払われます。\n# Refunds\nRefunds are paid within 14 days."


@dataclass(frozen=True)
class Site:
    url: str
    own: int
    other: int


def make_site(tmp_path: Path) -> Site:
    """Two departments; an owner and a reviewer in one, an owner in the other."""
    url = f"sqlite:///{tmp_path}/knowledge-pages.db"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    hasher = PasswordHasher(CHEAP_HASHING)
    with transaction(make_session_factory(engine)) as session:
        own = create_department(session, actor="test", name="Support").id
        other = create_department(session, actor="test", name="Finance").id
        for who, role, department in (
            ("owner", Role.OWNER, own),
            ("reviewer", Role.REVIEWER, own),
            ("other", Role.OWNER, other),
        ):
            user = create_user(
                session,
                actor="test",
                email=f"{who}@example.com",
                display_name=who,
                password=PASSWORD,
                password_hasher=hasher,
            )
            grant_role(session, actor="test", user_id=user.id, role=role, department_id=department)
    engine.dispose()
    return Site(url, own, other)
