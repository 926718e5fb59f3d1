"""The local model really drafting (Qwen2.5-Coder-0.5B-Instruct through llama-cpp-python, the
`deshi[llm]` extra; skipped, with the reason, without it; `make test` installs it):

- in process (`LocalDrafter`): an English and a Japanese draft from a two-passage knowledge
  base, whose citations name passages that exist and go through the faithfulness check;
- behind llama-cpp-python's own OpenAI-compatible server, started here on a free port: the
  existing `ChatDrafter` drafts through it, personal data are replaced before the request
  leaves (what left is recorded by the HTTP client itself) and the call is audited.

One thread each, on one xdist worker (`xdist_group`): the model is loaded once per process and
never competes with itself for the two cores. Small inputs keep each draft to well under a
minute on a busy machine.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import AuditEvent
from deshi.drafting.core import Draft, Evidence, cited_numbers
from deshi.drafting.extractive import ExtractiveDrafter
from deshi.drafting.faithfulness import check
from deshi.drafting.local import LocalDrafter, local_drafter
from deshi.drafting.local_model import QWEN_CODER_05B, prepare_model
from deshi.drafting.models import DraftRequest
from deshi.drafting.notes import NoteKey
from deshi.drafting.remote import ChatDrafter
from deshi.drafting.service import draft_reply, make_drafter
from deshi.engine.japanese import contains_japanese
from deshi.knowledge.service import SourceFile, store_documents
from deshi.processes.service import create_department
from deshi.settings import Settings
from knowledge_fakes import fake_index
from llm_extra import installed_parts, require_runtime

pytestmark = pytest.mark.xdist_group("local_llm")

CARDS = (
    "A new card arrives within 5 working days. If it has not arrived after 7 days, freeze it "
    "in the app and order a replacement."
)
REFUNDS = "A refund reaches your account within 10 days of approval."
ENGLISH = [Evidence(1, 101, "cards.md", CARDS), Evidence(2, 102, "refunds.md", REFUNDS)]
JAPANESE = [
    Evidence(
        1,
        201,
        "カード.md",
        "新しいカードは5営業日以内に届きます。7日を過ぎても届かない場合は、アプリでカードを"
        "凍結し、再発行を申し込んでください。",
    ),
    Evidence(2, 202, "返金.md", "返金は承認から10日以内に口座に入金されます。"),
]


def _installed_model(directory: Path) -> Path:
    require_runtime()
    return prepare_model(QWEN_CODER_05B, directory, parts=installed_parts()).path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The model assembled from the installed packages, in this test run's own folder (and
    removed after: pytest keeps the folders of recent runs, 491 MB each)."""
    path = _installed_model(tmp_path_factory.mktemp("models"))
    yield path
    path.unlink()


@pytest.fixture(scope="module")
def drafter(model_path: Path) -> LocalDrafter:
    return LocalDrafter(model_path=model_path, fallback=ExtractiveDrafter(), threads=1)


REFUND_QUESTION = "How long does a refund take?"


@pytest.fixture(scope="module")
def english_draft(drafter: LocalDrafter) -> Draft:
    return drafter.draft(REFUND_QUESTION, ENGLISH)


def test_an_english_draft_cites_passages_that_exist_and_is_checked(english_draft: Draft) -> None:
    assert english_draft.drafter == "local" and english_draft.model == QWEN_CODER_05B.name
    cited = cited_numbers(english_draft.text)
    assert cited and set(cited) <= {1, 2}
    report = check(english_draft.text, ENGLISH)
    assert report.sentences and all(s.cited for s in report.sentences)
    # The sentence that answers cites the refund passage, and the check finds it supported.
    [answer] = [s for s in report.sentences if "10 days" in s.sentence]
    assert answer.cited == (2,) and answer.supported


def test_a_japanese_message_gets_a_japanese_draft(drafter: LocalDrafter) -> None:
    draft = drafter.draft("返金にはどのくらいかかりますか？", JAPANESE)

    assert contains_japanese(draft.text)
    cited = cited_numbers(draft.text)
    assert cited and set(cited) <= {1, 2}
    assert check(draft.text, JAPANESE).sentences


def test_the_same_request_gives_the_same_draft(drafter: LocalDrafter, english_draft: Draft) -> None:
    assert drafter.draft(REFUND_QUESTION, ENGLISH).text == english_draft.text


def test_the_workspace_setting_selects_the_local_model(model_path: Path) -> None:
    settings = Settings(
        database_url="sqlite://", llm_provider="local", llm_model_dir=model_path.parent
    )
    chosen = make_drafter(settings)
    assert isinstance(chosen, LocalDrafter) and chosen.model_path == model_path


def test_without_the_extra_the_draft_is_extractive_and_says_why(tmp_path: Path) -> None:
    settings = Settings(database_url="sqlite://", llm_provider="local", llm_model_dir=tmp_path)
    # A model whose packages are not installed stands for a machine without the extra.
    missing = replace(QWEN_CODER_05B, distributions=("no-such-model-part1",))
    chosen = local_drafter(settings, ExtractiveDrafter(), package=missing)
    draft = chosen.draft("How long does a refund take?", ENGLISH)
    assert draft.drafter == "extractive" and "[2]" in draft.text
    [note] = draft.notes
    assert note.key is NoteKey.LOCAL_MODEL_MISSING and "is not installed" in note.params["reason"]
    assert note.text.startswith("the local model is not available")


# --- the remote path: llama-cpp-python's OpenAI-compatible server ------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llm_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a free local port; yields its `/v1` base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("llm-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
        "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1",
        "--n_threads_batch", "1", "--n_ctx", "4096", "--seed", "0",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"the llama.cpp server stopped: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the llama.cpp server did not come up: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_chat_drafter_drafts_through_the_local_server_and_redacts_first(
    llm_server: str, session_factory: sessionmaker[Session]
) -> None:
    sent: list[bytes] = []

    def record(request: httpx.Request) -> None:  # what leaves, as it leaves
        sent.append(request.read())

    # The workspace's own configuration: the server as its endpoint, held to the schema (a
    # 0.5B model writes no [n] by itself).
    settings = Settings(llm_base_url=llm_server, llm_model="qwen", llm_structured_output=True)
    client = httpx.Client(timeout=300, trust_env=False, event_hooks={"request": [record]})
    chat = make_drafter(settings, client=client)
    assert isinstance(chat, ChatDrafter) and chat.structured
    with transaction(session_factory) as session:
        department = create_department(session, actor="test", name="Cards").id
        store_documents(
            session,
            actor="test",
            department_id=department,
            files=[
                SourceFile("cards.md", CARDS.encode()),
                SourceFile("refunds.md", REFUNDS.encode()),
            ],
            index=fake_index(),
        )
    message = "I am Ken Sato (ken.sato@example.com). My new card has not arrived after 8 days."
    with transaction(session_factory) as session:
        draft = draft_reply(
            session,
            actor="test",
            request=DraftRequest(department_id=department, message=message, top_k=2),
            drafter=chat,
            index=fake_index(),
        )

    [request] = sent
    assert b"Ken Sato" not in request and b"ken.sato@example.com" not in request
    data = json.loads(json.loads(request)["messages"][1]["content"])
    assert data["message"].startswith("I am <PERSON_1> (<EMAIL_1>)")
    assert "response_format" in json.loads(request)
    assert draft.drafter == "chat" and "redacted:2" in draft.guardrails
    assert any(c.cited for c in draft.citations)
    assert set(cited_numbers(draft.text)) <= {1, 2} and cited_numbers(draft.text)
    with session_factory() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "drafting.remote_call")
        )
    assert event.after is not None
    assert event.after["endpoint"] == llm_server and event.after["redactions"] == 2
