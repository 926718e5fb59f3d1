from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from deshi.cli.main import app


def test_serve_is_a_documented_command() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--db", "--no-worker"):
        assert option in result.output


def test_serve_limits_blas_threads_and_warms_the_agents(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits: list[int] = []
    served: list[FastAPI] = []
    monkeypatch.setattr("deshi.engine.blas.limit_blas_threads", limits.append)
    said: list[logging.Logger] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: served.append(app))
    monkeypatch.setattr("deshi.cli._allocator.log_allocator", said.append)
    monkeypatch.setenv("DESHI_BLAS_THREADS", "3")

    result = CliRunner().invoke(app, ["serve", "--db", db_url, "--port", "1"])

    assert result.exit_code == 0, result.output
    assert limits == [3]
    assert [logger.name for logger in said] == ["deshi.serve"]  # its C allocator, at start
    [api] = served
    assert api.state.api_config.warm_agents and api.state.api_config.freeze_gc
