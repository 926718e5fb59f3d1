"""Fixtures of the learning tests."""

from __future__ import annotations

import pytest
from learning_desk import Desk, make_desk
from sqlalchemy.orm import Session, sessionmaker


@pytest.fixture
def desk(session_factory: sessionmaker[Session]) -> Desk:
    """A process with BANKING77 labels and a reviewer, committed."""
    return make_desk(session_factory)
