"""The go-live check over the API: queued when an import retrains and on request, run by the
worker, read back with its verdict; in the OpenAPI document with its errors."""

from __future__ import annotations

from api_world import LABELS, World, banking77
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from deshi.history.golive import GOLIVE_JOB, golive_handler
from deshi.jobs.worker import Worker


def _import(client: TestClient, world: World) -> None:
    rows = [
        {
            "external_id": f"t{i}",
            "text": text,
            "label": label,
            "time": f"2024-01-01T{i // 60:02}:{i % 60:02}:00Z",
        }
        for i, (text, label) in enumerate(banking77(LABELS, 25))
    ]
    body = {"rows": rows, "audit": False}
    r = client.post(
        f"/processes/{world.own_process}/history:batch", json=body, headers=world.auth("owner")
    )
    assert r.status_code == 200, r.text


def test_before_any_history_the_check_is_none(client: TestClient, world: World) -> None:
    r = client.get(f"/processes/{world.own_process}/go-live", headers=world.auth("reviewer"))
    assert r.status_code == 200
    assert r.json()["status"] == "none" and r.json()["history_items"] == 0


def test_an_import_queues_a_check_the_worker_runs_it_and_it_reads_back(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    _import(client, world)
    url = f"/processes/{world.own_process}/go-live"
    queued = client.get(url, headers=world.auth("auditor")).json()
    assert queued["status"] == "queued" and queued["requested_by"].startswith("user:")
    again = client.post(url, headers=world.auth("owner"))
    assert again.status_code == 202 and again.json()["check_id"] == queued["check_id"]
    assert Worker(session_factory, {GOLIVE_JOB: golive_handler()}).run_once() is not None
    done = client.get(url, headers=world.auth("reviewer")).json()
    assert done["status"] == "done", done
    assert done["figures"]["items"] == 20 and done["figures"]["trained_on"] == 80
    assert done["verdict"] in {"holds", "uncertain", "breaks", "nothing_automated"}
    assert done["message"] and done["error_budget"] == 0.01 and not done["stale"]
    fresh = client.post(url, headers=world.auth("admin"))
    assert fresh.status_code == 202 and fresh.json()["status"] == "queued"
    assert fresh.json()["check_id"] != done["check_id"]


def test_the_endpoints_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    operations = paths["/processes/{process_id}/go-live"]
    assert set(operations) == {"get", "post"}
    assert "404" in operations["get"]["responses"] and "403" in operations["post"]["responses"]
    schema = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/GoLivePublic")
