"""The Japanese featurizers (issue #26) are a process setting like the others: `ja_words` and
`multilingual` need no extra, so they are accepted at creation and by update, and an agent of
that process is configured with them."""

from __future__ import annotations

import pytest
from api_world import World
from fastapi.testclient import TestClient

from deshi.engine.types import AgentConfig


@pytest.mark.parametrize("name", ["ja_words", "multilingual"])
def test_a_japanese_featurizer_is_set_at_creation_and_by_update(
    client: TestClient, world: World, name: str
) -> None:
    body = {"department_id": world.own_department, "name": "苦情の分類", "featurizer": name}
    created = client.post("/processes", json=body, headers=world.auth("owner"))
    assert created.status_code == 201, created.text
    assert created.json()["featurizer"] == name

    url = f"/processes/{world.own_process}"
    updated = client.patch(url, json={"featurizer": name}, headers=world.auth("owner"))
    assert updated.status_code == 200 and updated.json()["featurizer"] == name
    assert AgentConfig(featurizer=name).featurizer == name  # what config_for builds
