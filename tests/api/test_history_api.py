"""The history API: JSON rows and file uploads, idempotent; state; the label-audit queue; who
may do what."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_world import LABELS, World, banking77
from fastapi.testclient import TestClient
from openpyxl import Workbook


def _rows(per_label: int = 25, flip_every: int = 0) -> list[dict[str, str]]:
    rows = []
    for i, (text, label) in enumerate(banking77(LABELS, per_label)):
        if flip_every and i % flip_every == 0:
            label = LABELS[(LABELS.index(label) + 1) % len(LABELS)]
        rows.append({"external_id": f"t{i}", "text": text, "label": label})
    return rows


def _csv(rows: list[dict[str, str]]) -> bytes:
    lines = ["ticket,body,category"]
    lines += [f'{r["external_id"]},"{r["text"].replace(chr(34), "")}",{r["label"]}' for r in rows]
    return ("\n".join(lines) + "\n").encode()


def test_a_batch_imports_then_resending_it_imports_nothing(
    client: TestClient, world: World
) -> None:
    url = f"/processes/{world.own_process}/history:batch"
    first = client.post(url, json={"rows": _rows()}, headers=world.auth("owner"))
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["rows"], body["imported"]) == (100, 100)
    assert set(body["labels"]) == set(LABELS)
    assert body["model_version"] == 1
    again = client.post(url, json={"rows": _rows()}, headers=world.auth("owner")).json()
    assert (again["imported"], again["already_imported"]) == (0, 100)
    state = client.get(f"/processes/{world.own_process}/history", headers=world.auth("auditor"))
    assert state.status_code == 200
    assert state.json()["items"] == 100
    assert len(state.json()["imports"]) == 2


def test_an_unknown_label_is_refused_naming_it(client: TestClient, world: World) -> None:
    rows = [*_rows(5), {"text": "what is a bitcoin", "label": "crypto"}]
    r = client.post(
        f"/processes/{world.own_process}/history:batch",
        json={"rows": rows},
        headers=world.auth("owner"),
    )
    assert r.status_code == 422
    assert "'crypto'" in r.json()["detail"]
    state = client.get(f"/processes/{world.own_process}/history", headers=world.auth("owner"))
    assert state.json()["items"] == 0


def test_a_csv_upload_is_mapped_and_imported(client: TestClient, world: World) -> None:
    r = client.post(
        f"/processes/{world.own_process}/history:upload",
        files={"file": ("tickets.csv", _csv(_rows()), "text/csv")},
        data={"text_col": "body", "label_col": "category", "id_col": "ticket"},
        headers=world.auth("admin"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["imported"], r.json()["format"], r.json()["source"]) == (
        100, "csv", "tickets.csv",
    )  # fmt: skip


def test_an_upload_with_a_missing_column_names_it_and_imports_nothing(
    client: TestClient, world: World
) -> None:
    r = client.post(
        f"/processes/{world.own_process}/history:upload",
        files={"file": ("tickets.csv", _csv(_rows()), "text/csv")},
        data={"text_col": "text", "label_col": "category"},
        headers=world.auth("owner"),
    )
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "no column 'text' in the file; its columns are: 'ticket', 'body', 'category'"
    )
    state = client.get(f"/processes/{world.own_process}/history", headers=world.auth("owner"))
    assert state.json()["items"] == 0


def test_the_label_audit_queue_can_be_confirmed_corrected_and_retrained(
    client: TestClient, world: World
) -> None:
    base = f"/processes/{world.own_process}/history"
    rows = _rows(per_label=40, flip_every=20)
    imported = client.post(f"{base}:batch", json={"rows": rows}, headers=world.auth("owner"))
    assert imported.status_code == 200, imported.text
    flags = client.get(f"{base}/flags", headers=world.auth("owner")).json()
    assert flags, imported.json()
    assert flags[0]["score"] >= flags[-1]["score"]
    target = flags[0]
    r = client.post(
        f"{base}/flags/{target['id']}",
        json={"action": "correct", "label": target["suggested_label"]},
        headers=world.auth("owner"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "corrected"
    assert r.json()["current_label"] == target["suggested_label"]
    again = client.post(
        f"{base}/flags/{target['id']}", json={"action": "confirm"}, headers=world.auth("owner")
    )
    assert again.status_code == 409
    retrained = client.post(f"{base}:retrain", headers=world.auth("owner"))
    assert retrained.status_code == 200, retrained.text
    assert retrained.json()["version"] == 2
    state = client.get(base, headers=world.auth("owner")).json()
    assert state["corrected"] == 1


@pytest.mark.parametrize(
    ("who", "process", "status"),
    [
        ("workspace_admin", "own", 200),
        ("admin", "own", 200),
        ("owner", "own", 200),
        ("reviewer", "own", 403),
        ("auditor", "own", 403),
        ("other_owner", "own", 404),
        ("owner", "other", 404),
    ],
)
def test_importing_needs_manage_process_in_the_department(
    client: TestClient, world: World, who: str, process: str, status: int
) -> None:
    process_id = world.own_process if process == "own" else world.other_process
    rows = {"rows": _rows(5), "retrain": False}
    r = client.post(f"/processes/{process_id}/history:batch", json=rows, headers=world.auth(who))
    assert r.status_code == status, r.text
    flags = client.get(f"/processes/{process_id}/history/flags", headers=world.auth(who))
    assert flags.status_code == (200 if status == 200 else status)


@pytest.mark.parametrize(
    ("who", "status"), [("reviewer", 200), ("auditor", 200), ("other_owner", 404)]
)
def test_reading_the_history_state_needs_read(
    client: TestClient, world: World, who: str, status: int
) -> None:
    r = client.get(f"/processes/{world.own_process}/history", headers=world.auth(who))
    assert r.status_code == status


def test_retraining_needs_manage_models(client: TestClient, world: World) -> None:
    r = client.post(
        f"/processes/{world.own_process}/history:retrain", headers=world.auth("reviewer")
    )
    assert r.status_code == 403


def test_the_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    for path in (
        "/processes/{process_id}/history:batch",
        "/processes/{process_id}/history:upload",
        "/processes/{process_id}/history",
        "/processes/{process_id}/history/flags",
        "/processes/{process_id}/history/flags/{flag_id}",
        "/processes/{process_id}/history:retrain",
    ):
        assert path in paths
    assert "422" in paths["/processes/{process_id}/history:batch"]["post"]["responses"]


def test_an_upload_is_refused_for_a_reviewer_before_the_file_is_read(
    client: TestClient, world: World
) -> None:
    r = client.post(
        f"/processes/{world.own_process}/history:upload",
        files={"file": ("notes.docx", b"not a history file", "application/octet-stream")},
        data={"text_col": "body", "label_col": "category"},
        headers=world.auth("reviewer"),
    )
    assert r.status_code == 403


def test_an_excel_upload_imports(client: TestClient, world: World, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["body", "category"])
    for row in _rows(10):
        sheet.append([row["text"], row["label"]])
    path = tmp_path / "history.xlsx"
    book.save(path)
    r = client.post(
        f"/processes/{world.own_process}/history:upload",
        files={"file": ("history.xlsx", path.read_bytes(), "application/octet-stream")},
        data={"text_col": "body", "label_col": "category", "add_labels": "true"},
        headers=world.auth("owner"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["imported"], r.json()["format"]) == (40, "xlsx")
