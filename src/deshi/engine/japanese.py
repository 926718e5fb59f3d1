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

__all__ = ["contains_japanese", "person_name_spans", "sentences", "word_tokens"]

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


def person_name_spans(text: str) -> list[tuple[int, int]]:
    """Where the text names a person, as (start, end) offsets into `text`: adjacent names that
    Sudachi's dictionary tags 人名 hold a family and a given name (山田太郎), or a name is
    followed by an honorific (田中さん, 花子様).

    A lone word the dictionary also lists as a name (ギア, ミラー) is not taken: only names
    the dictionary knows are found, so this is the Japanese half of `deshi.privacy`'s name
    rule, not a full NER model."""
    if not contains_japanese(text):
        return []
    tokenizer = _tokenizer_c()
    found: list[tuple[int, int]] = []
    for offset in range(0, len(text), _MAX_CHUNK_CHARS):
        piece = text[offset : offset + _MAX_CHUNK_CHARS]
        run: list[tuple[int, int, str]] = []  # (start, end, 姓 or 名) of adjacent names
        for morpheme in [*tokenizer.tokenize(piece), None]:
            pos = morpheme.part_of_speech() if morpheme is not None else ()
            if pos and pos[2] == "人名" and (not run or run[-1][1] == morpheme.begin()):
                run.append((morpheme.begin(), morpheme.end(), pos[3]))
                continue
            if run and _is_person(run, piece):
                found.append((offset + run[0][0], offset + run[-1][1]))
            run = [(morpheme.begin(), morpheme.end(), pos[3])] if pos and pos[2] == "人名" else []
    return found


_HONORIFIC: Final = re.compile(r"(?:さん|様|さま|殿|氏|君|くん|ちゃん|先生)")


def _is_person(run: list[tuple[int, int, str]], piece: str) -> bool:
    kinds = {kind for _, _, kind in run}
    return {"姓", "名"} <= kinds or _HONORIFIC.match(piece, run[-1][1]) is not None


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


def _tokenizer_c() -> Any:
    """This thread's Sudachi tokenizer in split mode C (whole names and compounds)."""
    cached = getattr(_local, "tokenizer_c", None)
    if cached is None:
        from sudachipy import SplitMode

        cached = _shared_dictionary().tokenizer(mode=SplitMode.C)
        _local.tokenizer_c = cached
    return cached


def _shared_dictionary() -> Any:
    global _dictionary
    with _dictionary_lock:
        if _dictionary is None:
            from sudachipy import Dictionary

            _dictionary = Dictionary(dict="core")
        return _dictionary
