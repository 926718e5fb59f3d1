"""Fixtures of the history tests: a department, a process and an admin, committed."""

from __future__ import annotations

import pytest
from history_desk import Desk, make_desk
from sqlalchemy.orm import Session, sessionmaker


@pytest.fixture
def desk(session_factory: sessionmaker[Session]) -> Desk:
    """A process without labels: it takes the labels found in the history."""
    return make_desk(session_factory)
