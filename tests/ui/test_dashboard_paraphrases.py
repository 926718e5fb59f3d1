"""The dashboard's drafting section shows paraphrase consistency: drafts of two differently
worded questions whose message vectors are nearly the same are one pair (English and Japanese)."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_dashboard_drafting import _dashboard
from test_workbench_draft import _sign_in
from ui_world import UiWorld, add_process

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.tables import Item, Process, StoredDraft

ANSWER = "A new card arrives within 5 working days."


def _unit(*values: float) -> bytes:
    vector = np.asarray(values, dtype=np.float64)
    return (vector / np.linalg.norm(vector)).astype("<f4").tobytes()


@pytest.fixture(scope="module")
def paraphrased_process(ui_db: tuple[str, UiWorld]) -> int:
    """A process with two drafts of paraphrased questions (cosine 0.99), answered alike."""
    url, world = ui_db
    process_id = add_process(url, world, "Paraphrased")
    engine = create_db_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            process = session.get_one(Process, process_id)
            for question, vector in (
                ("Where is my card?", _unit(1.0, 0.0)),
                ("My card has not arrived yet", _unit(0.99, float(np.sqrt(1 - 0.99**2)))),
            ):
                item = Item(process_id=process_id, text=question, arm="assisted")
                session.add(item)
                session.flush()
                session.add(
                    StoredDraft(
                        department_id=process.department_id,
                        process_id=process_id,
                        item_id=item.id,
                        vector=vector,
                        drafter="extractive",
                        text=ANSWER,
                        faithfulness=1.0,
                        has_unsupported_claim=False,
                        created_by="test",
                    )
                )
    finally:
        engine.dispose()
    return process_id


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["Nearly the same message", "1 pairs, 0 of them exact repeats", "100.0%"]),
        ("ja", ["ほぼ同じ内容のメッセージ", "1 組（うち完全一致 0 組）", "100.0%"]),
    ],
)
def test_the_dashboard_shows_paraphrase_consistency(
    client: TestClient, paraphrased_process: int, lang: str, words: list[str]
) -> None:
    _sign_in(client, "owner")
    page = _dashboard(client, paraphrased_process, lang)
    assert 'data-paraphrase-consistency="1"' in page
    assert 'data-consistency="0"' in page  # the exact figure: no text was drafted twice
    for word in words:
        assert word in page
