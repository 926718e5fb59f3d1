"""`deshi serve` as IT runs it: JSON logs with request ids, readiness, metrics behind the token,
and a clean exit on SIGTERM. A real server process on a SQLite file and a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deshi.db import create_db_engine
from deshi.db.migrate import upgrade_to_head

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

DESHI = shutil.which("deshi", path=str(Path(sys.executable).parent)) or "deshi"
TOKEN = "t" * 40
WAIT = 60.0  # an upper bound for a loaded machine; never a speed claim


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"deshi serve exited early:\n{server.communicate()[1]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("deshi serve never became ready")


def test_serve_logs_json_with_request_ids_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deshi.db'}"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "DESHI_LOG_FORMAT": "json",
        "DESHI_METRICS_ENABLED": "true",
        "DESHI_METRICS_TOKEN": TOKEN,
        "DESHI_SECRET_KEY": "k" * 40,
        "DESHI_SHUTDOWN_GRACE_SECONDS": "2",
    }
    server = subprocess.Popen(
        [DESHI, "serve", "--db", url, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, server)
        traced = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "probe-1"})
        scrape = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        refused = httpx.get(f"{base}/metrics")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, stderr = server.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
            pytest.fail(f"deshi serve did not stop on SIGTERM:\n{stderr}")
    # uvicorn re-raises the signal once it has shut down, so the exit status says what stopped it
    assert server.returncode in (0, -signal.SIGTERM), stderr
    assert traced.headers["x-request-id"] == "probe-1"
    assert scrape.status_code == 200
    assert 'deshi_http_requests_total{method="GET",route="/readyz",status="200"}' in scrape.text
    assert refused.status_code == 401

    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # all JSON
    access = [line for line in lines if line["logger"] == "deshi.http"]
    [probe] = [line for line in access if line["request_id"] == "probe-1"]
    assert (probe["route"], probe["status"]) == ("/healthz", 200)
    assert all(len(line["request_id"] or "") > 0 for line in access)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # one format for all
    assert any(line["logger"] == "deshi.jobs" and "stopped" in line["message"] for line in lines)
    assert lines[-1]["message"].startswith("Finished server process")  # shut down, not killed
    assert not any("color_message" in line for line in lines)
