"""Japanese word tokens from Sudachi, whose dictionary ships inside the `sudachidict-core` wheel.

Japanese writes no spaces between words, so word features, BM25 ranking and sentence splitting
need a morphological analyser. Sudachi's split mode A gives the shortest units (good for search:
「警告灯」 becomes 警告 + 灯, so a query for 警告 finds it); each token is reduced to its
normalised form (踏ん → 踏む; words in Latin letters stay as written, since Sudachi would turn
"the" into ザ), and punctuation and whitespace are dropped. The text is NFKC-folded and
lower-cased first, so full-width ＡＢＳ and ABS are one token.

Sudachi tokenizers are not safe to share between threads; each thread gets its own from one
dictionary (loading it is a memory map: milliseconds).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["contains_japanese", "sentences", "word_tokens"]

# Hiragana, katakana (with the half-width block) and the CJK ideographs Japanese uses.
_JAPANESE: Final = re.compile(
    r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\u3400-\u4dbf\u4e00-\u9fff]"
)
# Sudachi refuses inputs over about 49 KB; texts are cut on sentence ends below that.
_MAX_CHUNK_CHARS: Final = 8_000
# Sentence ends in Japanese and English; a line break also ends one.
_SENTENCE_END: Final = re.compile(r"(?<=[。．！？!?])|(?<=\.)\s+|\n+")
_DROPPED_POS: Final = frozenset({"補助記号", "空白"})

_local = threading.local()
_dictionary_lock = threading.Lock()
_dictionary: Any = None


def contains_japanese(text: str) -> bool:
    """True when the text holds kana or kanji."""
    return _JAPANESE.search(text) is not None


def sentences(text: str) -> list[str]:
    """The text's sentences, split after 。．！？!? and line breaks, and after a full stop
    followed by a space; blank pieces dropped, each stripped."""
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece and piece.strip()]


def word_tokens(text: str) -> list[str]:
    """The text's words: Sudachi split mode A, normalised forms, no punctuation or spaces."""
    tokenizer, mode = _tokenizer()
    folded = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for chunk in _chunks(folded):
        for morpheme in tokenizer.tokenize(chunk, mode):
            if morpheme.part_of_speech()[0] in _DROPPED_POS:
                continue
            surface = morpheme.surface()
            # Sudachi "normalises" some English words to katakana (the → ザ): keep Latin as is.
            form = surface if surface.isascii() else morpheme.normalized_form().lower()
            if form.strip():
                tokens.append(form)
    return tokens


def _chunks(text: str) -> Iterator[str]:
    """Pieces of at most _MAX_CHUNK_CHARS, cut at sentence ends where there are any."""
    piece = ""
    for sentence in sentences(text):
        while len(sentence) > _MAX_CHUNK_CHARS:  # one enormous "sentence": cut it anyway
            if piece:
                yield piece
                piece = ""
            yield sentence[:_MAX_CHUNK_CHARS]
            sentence = sentence[_MAX_CHUNK_CHARS:]
        if len(piece) + len(sentence) + 1 > _MAX_CHUNK_CHARS:
            yield piece
            piece = ""
        piece = f"{piece}\n{sentence}" if piece else sentence
    if piece:
        yield piece


def _tokenizer() -> tuple[Any, Any]:
    """This thread's Sudachi tokenizer and split mode A."""
    cached = getattr(_local, "tokenizer", None)
    if cached is None:
        from sudachipy import SplitMode

        cached = (_shared_dictionary().tokenizer(mode=SplitMode.A), SplitMode.A)
        _local.tokenizer = cached
    return cached


def _shared_dictionary() -> Any:
    global _dictionary
    with _dictionary_lock:
        if _dictionary is None:
            from sudachipy import Dictionary

            _dictionary = Dictionary(dict="core")
        return _dictionary
