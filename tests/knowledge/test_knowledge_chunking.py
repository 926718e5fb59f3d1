"""Passages: whole sentences (Japanese 。 included), bounded, never across a page or section."""

from __future__ import annotations

from deshi.knowledge.chunk import Chunk, chunk_blocks
from deshi.knowledge.parse import Block


def test_japanese_sentences_are_packed_whole_up_to_the_bound() -> None:
    sentences = [
        "経費精算は月末までに申請してください。",
        "領収書の原本を添付すること。",
        "遅れた場合は上長の承認が必要です。",
    ]
    chunks = chunk_blocks([Block("".join(sentences))], max_chars=40)
    assert [c.text for c in chunks] == [sentences[0] + sentences[1], sentences[2]]
    assert all(len(c.text) <= 40 for c in chunks)


def test_lines_a_pdf_wrapped_are_joined_without_spaces_in_japanese_and_with_them_in_english() -> (
    None
):
    chunks = chunk_blocks(
        [Block("経費精算は月末\nまでに申請してください。\nClaims are\nfiled monthly.", page=3)]
    )
    assert chunks == [
        Chunk("経費精算は月末までに申請してください。Claims are filed monthly.", 3, "")
    ]


def test_a_passage_never_crosses_a_page_or_a_section() -> None:
    blocks = [
        Block("一ページ目です。", page=1),
        Block("二ページ目です。", page=2),
        Block("Intro.", section="A"),
    ]
    assert chunk_blocks(blocks) == [
        Chunk("一ページ目です。", 1, ""),
        Chunk("二ページ目です。", 2, ""),
        Chunk("Intro.", None, "A"),
    ]


def test_a_sentence_longer_than_the_bound_is_cut_at_a_space() -> None:
    long_sentence = " ".join(["word"] * 40)  # 199 characters, no sentence end
    chunks = chunk_blocks([Block(long_sentence)], max_chars=50)
    assert all(len(c.text) <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks) == long_sentence
    assert all(not c.text.startswith(" ") and not c.text.endswith(" ") for c in chunks)
