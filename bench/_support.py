"""Setup shared by the service benchmarks: a free local port, a throw-away PostgreSQL schema,
the bundled BANKING77 rows, a process with an owner's API token, a `deshi serve` subprocess and
an agent warmed up through the API."""

from __future__ import annotations

import csv
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import httpx
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from deshi.auth.service import create_user, grant_role, issue_api_token
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.domain import Mode, Role
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import retrain
from deshi.processes.service import create_department, create_process


def banking77_rows(
    limit: int | None = None, *, shuffle_seed: int | None = None
) -> list[tuple[str, str]]:
    """BANKING77 training rows as (text, label); with `limit`, that many (cycling if needed).

    The file is sorted by label, so its first 300 rows hold 3 of the 77 labels; `shuffle_seed`
    mixes them, the same way every run."""
    path = resources.files("deshi") / "data" / "banking77" / "train.csv"
    with path.open(encoding="utf-8") as f:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(f)]
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(rows)
    return rows if limit is None else [rows[i % len(rows)] for i in range(limit)]


def prepare_process(
    url: str, labels: list[str], *, name: str, mode: Mode | None = None
) -> tuple[str, int]:
    """Migrate; create a department, a process (in `mode`, if given) and an owner's API token.
    Returns (token, process id)."""
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        department = create_department(session, actor="bench", name=name.title())
        user = create_user(session, actor="bench", email=f"{name}@example.com", display_name=name)
        grant_role(
            session, actor="bench", user_id=user.id, role=Role.OWNER, department_id=department.id
        )
        token = issue_api_token(session, actor="bench", user_id=user.id, name=name).plaintext
        process = create_process(
            session, actor="bench", department_id=department.id, name=name, labels=labels
        )
        if mode is not None:
            process.mode = mode
    engine.dispose()
    return token, process.id


@contextmanager
def server(url: str, port: int) -> Iterator[str]:
    """`deshi serve --no-worker` on 127.0.0.1:`port` until the block ends; yields its base URL.

    Its stderr goes to a temporary file (a pipe nobody reads could fill up and stall it) and is
    quoted if it does not come up; it is terminated (killed if it will not stop) on any exit.
    """
    deshi = Path(sys.executable).with_name("deshi")
    command = [str(deshi), "serve", "--db", url, "--port", str(port), "--no-worker"]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while not _healthy(base):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"deshi serve on port {port} did not come up:\n{tail}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def warm_up(client: httpx.Client, url: str, process_id: int, data: list[tuple[str, str]]) -> None:
    """Review `data` through the API, then retrain once (what the worker would do)."""
    truth = {f"w{i}": label for i, (_, label) in enumerate(data)}
    body = {"items": [{"external_id": f"w{i}", "text": t} for i, (t, _) in enumerate(data)]}
    client.post(f"/processes/{process_id}/items:batch", json=body).raise_for_status()
    while (r := client.post(f"/processes/{process_id}/queue/claim")).status_code == 200:
        item = r.json()
        answer = {"action": "correct", "label": truth[item["external_id"]]}
        client.post(f"/items/{item['id']}/review", json=answer).raise_for_status()
    engine = create_db_engine(url)
    retrain(make_session_factory(engine), process_id=process_id, registry=AgentRegistry())
    engine.dispose()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_schema(base_url: str, prefix: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def machine() -> str:
    """Core count and CPU model, for the results tables."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} x {model}"
