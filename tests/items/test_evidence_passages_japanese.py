"""Japanese items get Japanese passages: JSQuAD-style questions over Wikipedia-style paragraphs,
with an English translation of every paragraph in the same knowledge base (the multilingual
embedder finds both languages), through the real embedder, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.domain import Role
from deshi.engine.japanese import contains_japanese
from deshi.items.models import ItemCreate
from deshi.items.service import IngestLimits, get_item, ingest_items
from deshi.knowledge import KnowledgeIndex
from deshi.knowledge.service import SourceFile, store_documents
from deshi.learning.registry import AgentRegistry
from deshi.permissions import Grant, Principal
from deshi.processes.service import create_department, create_process
from fakes import CentroidDecider

# JSQuAD's shape: a Wikipedia paragraph per title, a question whose answer is a span of it.
CONTEXTS_JA = (
    "# 富士山\n\n富士山は静岡県と山梨県にまたがる活火山で、標高は3776メートルである。"
    "日本の最高峰であり、2013年に世界文化遺産に登録された。\n\n"
    "# 琵琶湖\n\n琵琶湖は滋賀県にある日本最大の湖で、面積は約670平方キロメートルである。"
    "京都や大阪の水源として利用されている。\n\n"
    "# 東海道新幹線\n\n東海道新幹線は東京駅と新大阪駅を結ぶ高速鉄道で、"
    "1964年の東京オリンピックに合わせて開業した。\n"
)
CONTEXTS_EN = (
    "# Mount Fuji\n\nMount Fuji is an active volcano on the border of Shizuoka and Yamanashi, "
    "3,776 metres high. It is the highest peak in Japan and became a World Heritage Site in "
    "2013.\n\n"
    "# Lake Biwa\n\nLake Biwa, in Shiga Prefecture, is the largest lake in Japan, about 670 "
    "square kilometres. It supplies water to Kyoto and Osaka.\n\n"
    "# Tokaido Shinkansen\n\nThe Tokaido Shinkansen is a high-speed line between Tokyo and "
    "Shin-Osaka stations, opened in 1964 for the Tokyo Olympics.\n"
)
QUESTIONS = {
    "日本で一番高い山の標高は何メートルですか": "富士山",
    "日本最大の湖はどの県にありますか": "琵琶湖",
    "東海道新幹線が開業したのは何年ですか": "東海道新幹線",
}


@pytest.fixture(scope="module")
def real_index() -> KnowledgeIndex:
    """The product's index: multilingual-e5-small (loaded once for the module)."""
    return KnowledgeIndex()


def test_japanese_items_get_the_japanese_passage_that_answers_them(
    session_factory: sessionmaker[Session], real_index: KnowledgeIndex
) -> None:
    with transaction(session_factory) as session:
        department = create_department(session, actor="test", name="総務").id
        process = create_process(
            session, actor="test", department_id=department, name="問い合わせ", labels=["a", "b"]
        ).id
        store_documents(
            session,
            actor="test",
            department_id=department,
            files=[
                SourceFile("jsquad.md", CONTEXTS_JA.encode()),
                SourceFile("jsquad-en.md", CONTEXTS_EN.encode()),
            ],
            index=real_index,
        )
    owner = Principal.of(1, [Grant(Role.OWNER, department)])
    items = ingest_items(
        session_factory,
        principal=owner,
        process_id=process,
        items=[ItemCreate(text=question) for question in QUESTIONS],
        limits=IngestLimits(),
        batch=True,
        registry=AgentRegistry(make_decider=CentroidDecider),
    )
    with transaction(session_factory) as session:
        shown = [
            get_item(session, principal=owner, item_id=item.id, index=real_index) for item in items
        ]
    for question, item in zip(QUESTIONS, shown, strict=True):
        assert item.evidence_passages, question
        top = item.evidence_passages[0]
        assert (top.document, top.section) == ("jsquad.md", QUESTIONS[question]), question
        assert contains_japanese(top.excerpt)
