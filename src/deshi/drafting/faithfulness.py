"""Is each sentence of a draft supported by the passages it cites?

A deterministic check, chosen over a language model as judge (a small local model agreed with
reviewers on 3 of 4 probes; see ../shared/research): for every sentence of the draft,

- the passages it cites (`[n]`) are its evidence; a sentence that cites nothing is unsupported
  unless it carries no content word (a greeting, "Thank you.");
- `support` is the share of the sentence's content words (Sudachi's normalised words, so
  Japanese inflections and full-width forms match; particles and English function words left
  out) found in the cited passages;
- every number in the sentence must appear in the cited passages: a changed amount, date or
  deadline is the most expensive way to be wrong;
- so must every *term*: a word written with a capital inside an English sentence, or a Japanese
  word of two or more kanji or katakana: names, products, places, and the swapped fact of a
  fluent, on-topic, wrong sentence;
- the sentence is supported when `support >= threshold` (default 0.6) and no number or term
  is missing.

The draft's faithfulness is the share of supported sentences; a draft with any unsupported
sentence "has an unsupported claim" (the hallucination KPI) and is never sent without review.
docs/drafting.md gives the measured agreement of this check with the gold answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from deshi.drafting.core import Evidence, cited_numbers, strip_citations
from deshi.engine.japanese import sentences, word_tokens

__all__ = ["DEFAULT_THRESHOLD", "FaithfulnessReport", "SentenceCheck", "check", "content_tokens"]

DEFAULT_THRESHOLD: Final = 0.6
_NUMBER: Final = re.compile(r"\d+(?:[.,]\d+)*")
_LEADING_CITATIONS: Final = re.compile(r"^(?:\s*\[\d{1,3}\])+\s*")
# A capitalised word that does not start the sentence (nor follow a colon or quote).
_CAPITALISED: Final = re.compile(r"(?<=[a-z0-9,;)] )[A-Z][A-Za-z0-9'-]*")
_JAPANESE_TERM: Final = re.compile(r"[一-龯々ァ-ヶー]{2,}")
_KANA_ONLY: Final = re.compile(r"^[ぁ-ゖー]{1,3}$")  # particles and endings: は, を, です, ます
_ENGLISH_FUNCTION_WORDS: Final = (
    "a an the of to in on at for by with from and or but is are was were be been being it its "
    "this that these those as if then than so not no do does did have has had can could will "
    "would should may might must i you he she we they my your our their me us them there here "
    "what which who whom when where why how about into over under up down out"
)
# Courtesy needs no source: "Thank you", "Kind regards", よろしくお願いいたします; nor do
# Japanese light verbs (Sudachi's normalised forms).
_COURTESY: Final = "thank thanks please hello hi dear kind regards sincerely"
_JAPANESE_LIGHT_WORDS: Final = (
    "為る 居る 有る 成る 致す 頂く 下さる 御座る 願う 申す 有り難い 宜しい 宜しく 御 お ご"
)
_FUNCTION_WORDS: Final = frozenset(
    " ".join((_ENGLISH_FUNCTION_WORDS, _COURTESY, _JAPANESE_LIGHT_WORDS)).split(" ")
)


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    """One sentence of a draft and the verdict on it."""

    sentence: str
    cited: tuple[int, ...]
    support: float
    missing_numbers: tuple[str, ...]
    supported: bool
    missing_terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FaithfulnessReport:
    """Every sentence's verdict; `faithfulness` is the share of supported sentences."""

    sentences: tuple[SentenceCheck, ...]

    @property
    def faithfulness(self) -> float:
        if not self.sentences:
            return 1.0
        return sum(s.supported for s in self.sentences) / len(self.sentences)

    @property
    def has_unsupported_claim(self) -> bool:
        return any(not s.supported for s in self.sentences)


def content_tokens(text: str) -> list[str]:
    """The words that carry content: Sudachi's normalised words, without particles, short
    kana endings, English function words and bare punctuation."""
    words = [word for token in word_tokens(text) for word in token.split()]  # "thank you"
    return [
        token
        for token in words
        if token not in _FUNCTION_WORDS
        and not _KANA_ONLY.match(token)
        and any(c.isalnum() for c in token)
    ]


def check(
    draft: str, evidence: Sequence[Evidence], *, threshold: float = DEFAULT_THRESHOLD
) -> FaithfulnessReport:
    """Check each sentence of `draft` against the evidence it cites."""
    by_number = {e.number: e for e in evidence}
    checks = []
    for sentence in _sentences_with_citations(draft):
        cited = tuple(n for n in cited_numbers(sentence) if n in by_number)
        checks.append(_check_sentence(sentence, [by_number[n] for n in cited], cited, threshold))
    return FaithfulnessReport(tuple(checks))


def _sentences_with_citations(text: str) -> list[str]:
    """The draft's sentences; a citation written after the full stop ("… days. [1]") belongs
    to the sentence before it."""
    merged: list[str] = []
    for sentence in sentences(text):
        leading = _LEADING_CITATIONS.match(sentence)
        if merged and leading:
            merged[-1] = f"{merged[-1]} {leading.group(0).strip()}"
            sentence = sentence[leading.end() :]
        if sentence.strip():
            merged.append(sentence)
    return merged


def _check_sentence(
    sentence: str, cited: list[Evidence], numbers: tuple[int, ...], threshold: float
) -> SentenceCheck:
    plain = strip_citations(sentence)
    words = set(content_tokens(plain))
    source = " ".join(e.text for e in cited)
    if not words:  # "Thank you." / 「よろしくお願いします。」: nothing to support
        return SentenceCheck(sentence, numbers, 1.0, (), True)
    found = set(content_tokens(source)) if cited else set()
    support = len(words & found) / len(words)
    source_numbers = set(_NUMBER.findall(_ascii_digits(source)))
    missing = tuple(n for n in _NUMBER.findall(_ascii_digits(plain)) if n not in source_numbers)
    terms = tuple(sorted(t for t in _terms(plain, words) if t not in found))
    supported = bool(cited) and support >= threshold and not missing and not terms
    return SentenceCheck(sentence, numbers, round(support, 4), missing, supported, terms)


def _terms(plain: str, words: set[str]) -> set[str]:
    """The sentence's content words that name something: capitalised inside an English
    sentence, or two or more kanji or katakana in Japanese."""
    capitalised = {m.group(0).lower() for m in _CAPITALISED.finditer(plain)}
    return {w for w in words if w in capitalised or _JAPANESE_TERM.fullmatch(w)}


def _ascii_digits(text: str) -> str:
    return text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
