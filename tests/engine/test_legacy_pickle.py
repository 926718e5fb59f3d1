"""Pickled model versions from before the model format convert once, to the same decisions."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from deshi.engine.featurize import TfidfFeaturizer
from deshi.engine.learn import LinearDecider
from deshi.engine.legacy_pickle import convert_pickled, is_pickled
from deshi.engine.model import TrainedModel
from deshi.engine.serialize import dump_model, load_model

SAMPLE = Path(__file__).parent / "data" / "model-v1.deshi"
TEXTS = ["where is my card", "card not delivered", "exchange rate for euros", "rate of the yen"]
LABELS = ["card_arrival", "card_arrival", "exchange_rate", "exchange_rate"]


@pytest.fixture
def model() -> TrainedModel:
    return load_model(SAMPLE.read_bytes())


def legacy(model: TrainedModel) -> bytes:
    """The artifact deshi stored before the model format."""
    return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def scores(model: TrainedModel) -> np.ndarray:
    vectors = model.featurizer.transform(TEXTS)
    return model.deciders[0].scores(vectors, TEXTS, [() for _ in TEXTS])[1]


def test_a_pickled_model_converts_to_the_file_of_the_same_model(model: TrainedModel) -> None:
    artifact = legacy(model)
    assert is_pickled(artifact) and not is_pickled(dump_model(model))
    assert convert_pickled(artifact) == dump_model(model)


def test_a_decider_pickled_with_its_scikit_learn_svm_converts_to_its_weights(
    model: TrainedModel,
) -> None:
    vectors = model.featurizer.transform(TEXTS)
    svm = LinearSVC(C=1.0, random_state=0).fit(vectors, LABELS)
    old = LinearDecider.__new__(LinearDecider)  # the layout stored before only weights were kept
    old.__dict__.update({"c": 1.0, "classes_": [str(c) for c in svm.classes_], "_svm": svm})

    converted = load_model(convert_pickled(legacy(replace(model, deciders=(old,)))))

    reference = svm.decision_function(vectors)
    np.testing.assert_allclose(scores(converted)[:, 1], reference, rtol=1e-5, atol=1e-6)


def test_a_single_label_decider_pickled_without_an_svm_converts(model: TrainedModel) -> None:
    old = LinearDecider.__new__(LinearDecider)
    old.__dict__.update({"c": 1.0, "classes_": ["card_arrival"], "_svm": None})

    converted = load_model(convert_pickled(legacy(replace(model, deciders=(old,)))))

    assert scores(converted).tolist() == [[1.0]] * len(TEXTS)


def test_a_featurizer_pickled_before_its_word_cache_converts(model: TrainedModel) -> None:
    assert isinstance(model.featurizer, TfidfFeaturizer)
    before = model.featurizer.transform(TEXTS)
    del model.featurizer.__dict__["_char_ids"]  # the layout stored before the cache existed

    converted = load_model(convert_pickled(legacy(model)))

    assert (converted.featurizer.transform(TEXTS) != before).nnz == 0


class _RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo this must not run",))


@pytest.mark.parametrize("payload", [_RunsCode(), {"not": "a model"}], ids=["code", "dict"])
def test_a_pickle_of_anything_else_is_refused(payload: object) -> None:
    with pytest.raises(pickle.UnpicklingError):
        convert_pickled(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def test_a_pickle_written_before_a_field_was_added_converts_with_its_default(
    model: TrainedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A slots dataclass pickles its fields as a list, in order; the pickles stored before the
    # format had no `search_layout` (added with format 2), so their list is one shorter.
    state = TrainedModel.__getstate__  # type: ignore[attr-defined]
    monkeypatch.setattr(TrainedModel, "__getstate__", lambda self: state(self)[:-1])
    artifact = legacy(model)
    monkeypatch.undo()

    converted = load_model(convert_pickled(artifact))

    assert converted.search_layout is None
    np.testing.assert_array_equal(scores(converted), scores(model))
