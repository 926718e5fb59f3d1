from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine


def _tamper(engine: Engine, sql: str) -> None:
    """Run raw SQL against audit_events as an attacker with DDL rights would: guard off first."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.exec_driver_sql(sql)


@pytest.fixture
def tamper(engine: Engine) -> Callable[[str], None]:
    """Apply raw SQL to the audit log, bypassing its append-only guard."""
    return lambda sql: _tamper(engine, sql)
