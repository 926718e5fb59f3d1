"""Session factory and a transaction helper; one session per unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from deshi.db.engine import LOCK_EARLY

__all__ = ["make_session_factory", "transaction"]


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay readable after commit (expire_on_commit=False)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session], *, lock_early: bool = True) -> Iterator[Session]:
    """Open a session, commit when the block succeeds, roll back when it raises.

    `lock_early` matters on SQLite only: the transaction takes the database's write lock as
    soon as it first touches the database (BEGIN IMMEDIATE), so its reads can never go stale
    before its writes (see `deshi.db.engine`). Such transactions run one at a time, which
    suits short units of work. A long one (a job that trains a model or calls a webhook)
    passes False, so it does not block every other writer; its first write then fails when
    another writer committed since its first read, and its caller retries.
    """
    options = {LOCK_EARLY: True} if lock_early else {}
    with factory(execution_options=options) as session, session.begin():
        yield session
