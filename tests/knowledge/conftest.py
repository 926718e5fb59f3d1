"""Knowledge-base fixtures: two departments on the test database and an instant embedder."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.knowledge import KnowledgeIndex
from deshi.processes.service import create_department
from knowledge_fakes import Departments, fake_index


@pytest.fixture
def departments(session_factory: sessionmaker[Session]) -> Departments:
    """Departments "Own" and "Other"."""
    with transaction(session_factory) as session:
        own = create_department(session, actor="test", name="Own").id
        other = create_department(session, actor="test", name="Other").id
    return Departments(own, other)


@pytest.fixture
def index() -> KnowledgeIndex:
    """A knowledge index on the hashing embedder (new per test: its cache is per index)."""
    return fake_index()
