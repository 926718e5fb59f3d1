"""Japanese words in the default featurizer (issue #26), and the cause it fixes, reproduced on
real MLIT complaints read from ../shared/datasets (skipped where that folder is absent)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from deshi.engine.featurize import TfidfFeaturizer, WordSplit, japanese_share, make_featurizer
from deshi.engine.search import cosine_top_k

MLIT = Path(__file__).resolve().parents[2].parent / "shared/datasets/ja_mlit_vehicle_complaints"
needs_mlit = pytest.mark.skipif(not MLIT.is_dir(), reason=f"{MLIT} is not there")

JAPANESE = ["走行中にエンジンが停止した。", "ブレーキが利かなくなった。", "エンジンが止まる"]
ENGLISH = ["my card has not arrived", "what is the exchange rate", "card not arrived yet"]


def _mlit_texts(n: int) -> list[str]:
    with (MLIT / "train.csv").open(encoding="utf-8") as handle:
        return [row["text"] for _, row in zip(range(n), csv.DictReader(handle), strict=False)]


def test_auto_takes_japanese_words_from_sudachi_and_english_words_from_spaces() -> None:
    japanese = TfidfFeaturizer().fit(JAPANESE)
    english = TfidfFeaturizer().fit(ENGLISH)

    assert japanese.words == "sudachi" and english.words == "spaces"
    assert japanese_share(JAPANESE + ENGLISH) == 0.5
    assert make_featurizer("ja_words").fit(ENGLISH).words == "sudachi"  # type: ignore[attr-defined]
    vocabulary = japanese.to_state()["word"]["terms"]
    assert "エンジン" in vocabulary and "停止" in vocabulary


def test_japanese_takes_character_1_2_grams_and_english_2_4_grams() -> None:
    japanese = TfidfFeaturizer().fit(JAPANESE)
    english = TfidfFeaturizer().fit(ENGLISH)

    assert japanese.char_ngrams == (1, 2) and english.char_ngrams == (2, 4)
    characters = japanese.to_state()["char"]["terms"]
    assert {"止", "停止", "エン"} <= set(characters)  # single characters are terms
    assert max(map(len, characters)) == 2
    assert TfidfFeaturizer(char_ngrams=(2, 3)).fit(JAPANESE).char_ngrams == (2, 3)


def test_a_model_stored_before_japanese_took_1_2_grams_keeps_2_4_grams() -> None:
    original = TfidfFeaturizer(words="sudachi", char_ngrams=(2, 4)).fit(JAPANESE)
    state = original.to_state()
    del state["min_char_ngram"]  # what versions stored before 2026-12-06 look like

    restored = TfidfFeaturizer.from_state(state)

    assert restored.char_ngrams == (2, 4)
    assert (restored.transform(JAPANESE) != original.transform(JAPANESE)).nnz == 0


def test_a_model_stored_before_sudachi_keeps_splitting_at_spaces() -> None:
    original = TfidfFeaturizer(words="spaces").fit(JAPANESE)
    state = original.to_state()
    del state["words"], state["min_char_ngram"]  # what versions stored before issue #26 look like

    restored = TfidfFeaturizer.from_state(state)

    assert restored.words == "spaces"
    assert (restored.transform(JAPANESE) != original.transform(JAPANESE)).nnz == 0


@needs_mlit
def test_split_at_spaces_each_japanese_complaint_is_one_private_word_capping_similarity() -> None:
    """The cause (docs/engine.md, "Japanese"): with words split at spaces, a Japanese complaint
    (no spaces) is a single "word" no other complaint shares, so half of each vector is private:
    two different complaints are never more than ½ alike, and the case memory's evidence and
    the near-duplicate rule stop meaning anything. Sudachi's words give the similarity back."""
    texts = list(dict.fromkeys(_mlit_texts(3000)))
    nearest = {}
    splits: tuple[WordSplit, ...] = ("spaces", "sudachi")
    for words in splits:
        featurizer = TfidfFeaturizer(words=words).fit(texts)
        vectors = featurizer.transform(texts)
        _, sims = cosine_top_k(vectors, vectors, 2)
        nearest[words] = sims[:, 1]  # the most similar other complaint
        if words == "spaces":
            terms = len(featurizer.to_state()["word"]["terms"])
            assert terms > 0.9 * len(texts)  # about one private "word" per complaint

    assert float(np.quantile(nearest["spaces"], 0.99)) < 0.55
    assert float(np.median(nearest["sudachi"])) > 1.5 * float(np.median(nearest["spaces"]))
    assert float(np.quantile(nearest["sudachi"], 0.99)) > 0.7
