"""Drift in the warnings API: the stored verdict of the drift check (deshi.items.drift) is read,
not computed, when the warnings are asked for."""

from __future__ import annotations

from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import DriftState

FIGURES = {
    "live_items": 240,
    "psi": 0.3333,
    "psi_threshold": 0.25,
    "novel_share": 0.08,
    "novel_expected": 0.01,
    "drifting": True,
}


def _store(factory: sessionmaker[Session], process_id: int, *, drifting: bool) -> None:
    with transaction(factory) as session:
        figures = {**FIGURES, "drifting": drifting}
        state = DriftState(
            process_id=process_id, drifting=drifting, figures=figures, checked_at=utcnow()
        )
        session.merge(state)


def test_a_stored_drift_is_a_warning_naming_its_numbers(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"/processes/{world.own_process}/warnings"
    assert "input_drift" not in [
        w["code"] for w in client.get(url, headers=world.auth("owner")).json()
    ]
    _store(session_factory, world.own_process, drifting=True)
    warnings = client.get(url, headers=world.auth("auditor")).json()
    [drift] = [w for w in warnings if w["code"] == "input_drift"]
    assert drift["severity"] == "warning"
    assert drift["params"] == {"items": 240, "psi": "0.33", "psi_threshold": "0.25",
                               "novel": 0.08, "expected": 0.01}  # fmt: skip
    assert "novel inputs 8.0% (history 1.0%)" in drift["message"]
    _store(session_factory, world.own_process, drifting=False)
    assert "input_drift" not in [
        w["code"] for w in client.get(url, headers=world.auth("owner")).json()
    ]
