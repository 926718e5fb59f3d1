"""The shared Japanese helpers: Sudachi word tokens, sentence splitting, the multilingual
embedder (real models from their wheels, on small inputs)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from deshi.engine.japanese import contains_japanese, sentences, word_tokens
from deshi.engine.multilingual import DIMENSIONS, MultilingualEmbedder, shared_embedder


def test_words_are_normalised_and_punctuation_is_dropped() -> None:
    tokens = word_tokens("ブレーキを踏んでも止まらず、ＡＢＳ警告灯が点灯した。")
    assert "踏む" in tokens and "止まる" in tokens  # inflected forms → dictionary forms
    assert "abs" in tokens  # full-width Latin folded and lower-cased
    assert {"警告", "灯"} <= set(tokens)  # mode A: the shortest units, good for search
    assert "、" not in tokens and "。" not in tokens


def test_latin_words_stay_as_written() -> None:
    assert word_tokens("The card has not arrived") == ["the", "card", "has", "not", "arrived"]


def test_a_text_longer_than_sudachis_input_limit_is_tokenised_whole() -> None:
    text = "カードが届きません。" * 6_000  # 60,000 characters, ~180 KB: over Sudachi's limit
    assert word_tokens(text).count("カード") == 6_000
    assert word_tokens("あ" * 20_000)  # one enormous "sentence" is cut, not refused


def test_empty_and_blank_texts_have_no_words() -> None:
    assert word_tokens("") == [] and word_tokens(" \n\u3000") == []


def test_sentences_end_at_japanese_and_english_stops() -> None:
    text = "一文目です。二文目です！Third one. Fourth?\nfifth"
    assert sentences(text) == ["一文目です。", "二文目です！", "Third one.", "Fourth?", "fifth"]


def test_japanese_is_told_from_other_scripts() -> None:
    assert contains_japanese("ｶｰﾄﾞ") and contains_japanese("漢字") and contains_japanese("かな")
    assert not contains_japanese("card 123 ÄÖÜ")


def test_each_thread_tokenises_with_its_own_tokenizer() -> None:
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(word_tokens("警告灯が点灯した。" * 50)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(r == results[0] for r in results)


@pytest.fixture(scope="module")
def embedder() -> MultilingualEmbedder:
    return shared_embedder()


def test_embeddings_are_unit_rows_and_find_a_japanese_paraphrase(
    embedder: MultilingualEmbedder,
) -> None:
    passages = embedder.passages(["ブレーキが効かない", "カーナビの画面が映らない", ""])
    assert passages.shape == (3, DIMENSIONS) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    query = embedder.queries(["制動装置の不具合で止まれない"])[0]
    assert int(np.argmax(passages[:2] @ query)) == 0


def test_embeddings_do_not_depend_on_the_batch(embedder: MultilingualEmbedder) -> None:
    texts = [f"問い合わせ {i}: カードが届きません" for i in range(70)]  # more than one batch
    together = embedder.queries(texts)
    alone = embedder.queries(texts[65:66])
    assert np.allclose(together[65], alone[0], atol=1e-5)
    assert embedder.queries([]).shape == (0, DIMENSIONS)
