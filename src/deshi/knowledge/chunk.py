"""Blocks to passages: whole sentences (Japanese 。 included) up to a bounded size.

A passage is what search returns and a citation points at, so it must read on its own and have
one place: it holds whole sentences (`deshi.engine.japanese.sentences` splits after 。！？.!?
and line breaks), never crosses a block (a PDF page or a section), and stays under
`MAX_PASSAGE_CHARS`, which keeps it inside the embedding model's 512 tokens in Japanese too
(about one token per Japanese character). A single sentence longer than that is cut at a space
where there is one. Lines a PDF wrapped mid-sentence are joined again: without a space between
Japanese characters, with one between words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from deshi.engine.japanese import sentences
from deshi.knowledge.parse import Block

__all__ = ["MAX_PASSAGE_CHARS", "Chunk", "chunk_blocks"]

MAX_PASSAGE_CHARS: Final = 600
# Scripts written without spaces: CJK punctuation, kana, kanji, full-width forms.
_UNSPACED: Final = re.compile(
    r"[\u3000-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]"
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage's text and its place."""

    text: str
    page: int | None
    section: str


def chunk_blocks(blocks: Iterable[Block], *, max_chars: int = MAX_PASSAGE_CHARS) -> list[Chunk]:
    """The passages of the blocks, in order."""
    return [
        Chunk(text=text, page=block.page, section=block.section)
        for block in blocks
        for text in _passages(block.text, max_chars)
    ]


def _passages(text: str, max_chars: int) -> Iterator[str]:
    """Sentences packed greedily into pieces of at most `max_chars`."""
    current = ""
    for sentence in _bounded(sentences(text), max_chars):
        joined = _join(current, sentence)
        if current and len(joined) > max_chars:
            yield current
            current = sentence
        else:
            current = joined
    if current:
        yield current


def _bounded(pieces: Iterable[str], max_chars: int) -> Iterator[str]:
    """Each piece, cut (at the last space before the limit, if any) when longer than allowed."""
    for piece in pieces:
        while len(piece) > max_chars:
            cut = piece.rfind(" ", max_chars // 2, max_chars)
            cut = cut if cut > 0 else max_chars
            yield piece[:cut].strip()
            piece = piece[cut:].strip()
        if piece:
            yield piece


def _join(left: str, right: str) -> str:
    """Two pieces of running text; no space next to a Japanese character or mark."""
    if not left:
        return right
    if _UNSPACED.match(left[-1]) or _UNSPACED.match(right[0]):
        return left + right
    return f"{left} {right}"
