"""Retrain jobs run in a child process (`Settings.isolate_retrains`): the version is stored and
the job finished by the child, its failures reach the worker, and it does not outlive the worker.
Each test starts real child processes (spawned, so they import deshi afresh: seconds each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from learning_desk import Desk, banking_rows
from sqlalchemy import select
from typer.testing import CliRunner

from deshi.cli.main import app
from deshi.db.tables import Job, JobStatus, ModelVersion
from deshi.engine.learn import LinearDecider
from deshi.jobs.worker import Worker
from deshi.learning.jobs import retrain_handler
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import RETRAIN_JOB
from deshi.settings import Settings

PIDS = "DESHI_TEST_DECIDER_PIDS"  # a file each decider fitted appends its OS process id to


class PidRecordingDecider(LinearDecider):
    """The default decider, writing down which OS process fits it (the env var reaches a
    spawned child, a test's variable would not)."""

    def __init__(self) -> None:
        super().__init__()
        with open(os.environ[PIDS], "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")


class FailingDecider(LinearDecider):
    def __init__(self) -> None:
        raise RuntimeError("the decider cannot be made")


def _url(desk: Desk) -> str:
    return desk.factory.kw["bind"].url.render_as_string(hide_password=False)


def _jobs(desk: Desk) -> list[tuple[JobStatus, str | None]]:
    with desk.factory() as session:
        rows = session.execute(select(Job.status, Job.last_error).where(Job.kind == RETRAIN_JOB))
        return [(status, error) for status, error in rows]


def _versions(desk: Desk) -> list[int]:
    with desk.factory() as session:
        return sorted(session.scalars(select(ModelVersion.version)).all())


def test_a_retrain_job_trains_and_stores_its_version_in_a_child_process(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids"
    monkeypatch.setenv(PIDS, str(pids))
    desk.teach(banking_rows()[:40])  # the first label bootstraps version 1 here; 40 queue a retrain
    before = _versions(desk)
    pids.unlink(missing_ok=True)
    registry = AgentRegistry(make_decider=PidRecordingDecider)
    handler = retrain_handler(registry, isolated=Settings(database_url=_url(desk)))
    assert Worker(desk.factory, {RETRAIN_JOB: handler}).run_once() is not None
    fitted_in = {int(line) for line in pids.read_text().split()}
    assert fitted_in and os.getpid() not in fitted_in  # every fit ran elsewhere
    assert _jobs(desk) == [(JobStatus.DONE, None)]  # finished by the child, once
    assert _versions(desk) == [*before, before[-1] + 1]
    assert registry.monitor_states() == {}  # the worker holds no agent of its own


def test_a_failure_in_the_child_fails_the_job_with_its_message(desk: Desk) -> None:
    desk.teach(banking_rows()[:40])
    before = _versions(desk)
    registry = AgentRegistry(make_decider=FailingDecider)
    handler = retrain_handler(registry, isolated=Settings(database_url=_url(desk)))
    worker = Worker(desk.factory, {RETRAIN_JOB: handler}, max_attempts=1)
    assert worker.run_once() is not None
    [(status, error)] = _jobs(desk)
    assert status == JobStatus.FAILED
    assert error is not None and "the decider cannot be made" in error
    assert _versions(desk) == before


def test_deshi_worker_retrains_in_a_child_by_default(desk: Desk) -> None:
    desk.teach(banking_rows()[:40])
    before = _versions(desk)
    result = CliRunner().invoke(
        app, ["worker", "--once", "--db", _url(desk)], env={"DESHI_ISOLATE_RETRAINS": "true"}
    )
    assert result.exit_code == 0, result.output
    assert _jobs(desk) == [(JobStatus.DONE, None)]
    assert _versions(desk) == [*before, before[-1] + 1]


def test_a_child_retrain_ends_when_its_worker_is_gone() -> None:
    # A parent id that is not this child's parent: the watch sees "the worker is gone" at once.
    # Without it, the child would sleep its 30 s and exit 0.
    script = (
        "import time\n"
        "from deshi.learning.jobs import _exit_with_parent\n"
        "_exit_with_parent(-1)\n"
        "time.sleep(30)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], timeout=20, check=False)
    assert done.returncode == 1
