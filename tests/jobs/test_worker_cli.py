from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli import worker as worker_cli
from deshi.cli.main import app
from deshi.db import transaction
from deshi.db.tables import Job, JobStatus
from deshi.jobs.queue import enqueue
from deshi.learning.service import RETRAIN_JOB


def test_worker_once_runs_due_jobs_and_exits(
    session_factory: sessionmaker[Session], db_url: str
) -> None:
    with transaction(session_factory) as session:
        enqueue(session, kind=RETRAIN_JOB, payload={"process_id": 12345})  # process is gone
    result = CliRunner().invoke(app, ["worker", "--once", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "Ran 1 job(s)." in result.output
    with session_factory() as session:
        assert session.scalars(select(Job.status)).all() == [JobStatus.DONE]


def test_the_worker_limits_blas_threads_from_the_setting(
    session_factory: sessionmaker[Session], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits: list[int] = []
    said: list[logging.Logger] = []
    monkeypatch.setattr(worker_cli, "limit_blas_threads", limits.append)
    monkeypatch.setattr(worker_cli, "log_allocator", said.append)
    monkeypatch.setenv("DESHI_BLAS_THREADS", "2")

    result = CliRunner().invoke(app, ["worker", "--once", "--db", db_url])

    assert result.exit_code == 0, result.output
    assert limits == [2]
    assert [logger.name for logger in said] == ["deshi.worker"]  # its C allocator, at start
