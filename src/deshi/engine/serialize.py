"""Stored model versions: numpy arrays and one JSON document in a zip file, never a pickle.

A pickle runs whatever code it names when it is loaded, so a database of pickled models could
run code in every process that reads it, and a pickle breaks when an engine class moves. A model
file holds data only, and is read with `json` and `numpy.load(..., allow_pickle=False)`:

- `model.json`: `{"format": "deshi-model", "format_version": 3, "model": {...}}`, the model's
  scalars, labels and vocabularies, with each array replaced by `{"$array": "<name>"}`;
- `arrays/<name>.npy`: the arrays, in numpy's own `.npy` format (deflated, except the case
  memory's rows: a restore reads them, in a third of the time when stored as they are).

Engine parts are stored by a stable kind name, never a module path: `{"kind": "linear-svm",
"state": {...}}`, the state being what the part's `to_state()` returns and its `from_state()`
takes back. Another Decider becomes storable with `register_kind`. docs/engine.md ("Stored
models") lists every key and the versioning rule; tests/engine/data holds a sample file of each
format version, which must keep loading.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, Protocol, Self, cast

import numpy as np
from scipy import sparse

from deshi.engine.confidence import ConfidenceModel
from deshi.engine.featurize import EmbeddingFeaturizer, HybridFeaturizer, TfidfFeaturizer
from deshi.engine.featurize_multilingual import E5Featurizer, MultilingualFeaturizer
from deshi.engine.learn import LinearDecider
from deshi.engine.memory import MemoryVectors
from deshi.engine.model import CalibrationData, TrainedModel
from deshi.engine.policy import Calibration, RegionTest
from deshi.engine.search import SearchLayout

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "UPGRADES",
    "ModelFormatError",
    "PickledModelError",
    "dump_model",
    "load_model",
    "register_kind",
    "without_memory_vectors",
]

FORMAT = "deshi-model"
FORMAT_VERSION = 3
DOCUMENT = "model.json"
ARRAYS = "arrays/"
UNCOMPRESSED = f"{ARRAYS}memory_vectors/"  # members written as they are (see the module)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same model gives the same bytes

Document = dict[str, Any]  # model.json, its array references replaced by the arrays
# UPGRADES[v] turns a version-v document into a version v + 1 one. A change to the format
# raises FORMAT_VERSION, adds the step here and a sample file of the old version to
# tests/engine/data: stored models are upgraded as they load.
UPGRADES: dict[int, Callable[[Document], Document]] = {
    1: lambda document: {**document, "model": {**document["model"], "search_layout": None}},
    2: lambda document: {**document, "model": {**document["model"], "memory_vectors": None}},
}


class ModelFormatError(ValueError):
    """The bytes are not a model this version of deshi can load."""


class PickledModelError(ModelFormatError):
    """A model version stored as a pickle by deshi before format 1."""

    def __init__(self) -> None:
        super().__init__(
            "this model version is a pickle stored by an older deshi, and pickles are no longer "
            "loaded (loading one can run code). Convert the stored versions once by upgrading "
            "the database: `deshi init` (migration 0008)."
        )


class Component(Protocol):
    """An engine part that can be stored: its state is JSON values and numpy arrays."""

    def to_state(self) -> dict[str, Any]: ...

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self: ...


_KINDS: dict[str, type[Component]] = {}


def register_kind(kind: str, cls: type[Component]) -> None:
    """Store instances of `cls` under the stable name `kind`, and rebuild them from it."""
    known = _KINDS.get(kind)
    if known is not None and known is not cls:
        raise ValueError(f"kind {kind!r} is already {known.__qualname__}")
    _KINDS[kind] = cls


register_kind("tfidf", TfidfFeaturizer)
register_kind("embeddings", HybridFeaturizer)
register_kind("sentence-embeddings", EmbeddingFeaturizer)
register_kind("multilingual", MultilingualFeaturizer)
register_kind("e5", E5Featurizer)
register_kind("linear-svm", LinearDecider)
register_kind("logistic-confidence", ConfidenceModel)


def dump_model(model: TrainedModel) -> bytes:
    """The model as a model file (format FORMAT_VERSION)."""
    arrays: dict[str, np.ndarray] = {}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": _take_arrays(_model_document(model), "", arrays),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _write(archive, DOCUMENT, json.dumps(document, ensure_ascii=False).encode())
        for name, array in arrays.items():
            _write_array(archive, f"{ARRAYS}{name}.npy", array)
    return buffer.getvalue()


def without_memory_vectors(data: bytes) -> bytes | None:
    """The model file without its case memory's rows, or None when it holds none (or is not a
    model file of this format). Only the deciding version's rows spare a restore its
    vectorising; a retired champion's are about a kilobyte a case (113 MB at 100,000 short
    texts) that a rollback to it can do without: it vectorises again."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if not any(name.startswith(UNCOMPRESSED) for name in archive.namelist()):
                return None
    except zipfile.BadZipFile:  # a pickle or a damaged file: nothing of this format to drop
        return None
    return dump_model(replace(load_model(data), memory_vectors=None))


def load_model(data: bytes) -> TrainedModel:
    """The model a model file holds, upgraded from older format versions."""
    document = _read(data)
    version = document.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFormatError(
            f"model format version {version!r} is not one this deshi reads (1 to "
            f"{FORMAT_VERSION}); a newer deshi wrote it?"
        )
    for step in range(version, FORMAT_VERSION):
        document = UPGRADES[step](document)
    try:
        return _model_from(document["model"])
    except ModelFormatError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"damaged model file: {exc!r}") from exc


def _write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data, compresslevel=1)  # 10% above level 6's size, in half the time


def _write_array(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    if not name.startswith(UNCOMPRESSED):
        npy = io.BytesIO()
        np.save(npy, array, allow_pickle=False)
        _write(archive, name, npy.getvalue())
        return
    # The memory's rows (113 MB for 100,000 short texts) are read in 0.2 s as they are, in
    # 0.6 s deflated (68 MB); written straight into the archive, without a copy in between.
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_STORED
    with archive.open(info, "w", force_zip64=array.nbytes > 1 << 30) as member:
        np.save(member, array, allow_pickle=False)


def _read(data: bytes) -> Document:
    if data[:1] == b"\x80":  # pickle protocols 2 and later start with PROTO
        raise PickledModelError
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            arrays: dict[str, np.ndarray | _Deferred] = {
                name[len(ARRAYS) : -len(".npy")]: (
                    _Deferred(data, name)
                    if name.startswith(UNCOMPRESSED)
                    else np.load(archive.open(name), allow_pickle=False)
                )
                for name in archive.namelist()
                if name.startswith(ARRAYS) and name.endswith(".npy")
            }
            hook = partial(_array_or_object, arrays)
            document = json.loads(archive.read(DOCUMENT), object_hook=hook)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:  # ValueError: bad JSON or .npy
        raise ModelFormatError(f"not a deshi model file: {exc!r}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFormatError(f"not a deshi model file (format is not {FORMAT!r})")
    return document


class _Deferred:
    """An array of the file read when first wanted: the memory's rows. A restore reads the
    champion's; the other versions it loads (the newest ones, often the champion before)
    stored theirs too, and they are never read."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name

    def load(self) -> np.ndarray:
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
                array: np.ndarray = np.load(archive.open(self.name), allow_pickle=False)
                return array
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise ModelFormatError(f"damaged model file: {exc!r}") from exc


def _take_arrays(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """`value` with every numpy array moved into `arrays`, named by its path in the document."""
    if isinstance(value, np.ndarray):
        arrays[path] = value
        return {"$array": path}
    if isinstance(value, dict):
        return {key: _take_arrays(item, _joined(path, key), arrays) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_take_arrays(item, _joined(path, i), arrays) for i, item in enumerate(value)]
    return value


def _joined(path: str, key: object) -> str:
    return f"{path}/{key}" if path else str(key)


def _array_or_object(arrays: dict[str, np.ndarray | _Deferred], value: dict[str, Any]) -> Any:
    """A JSON object of the document, or the array it refers to (undoes `_take_arrays`)."""
    if len(value) == 1 and "$array" in value:
        return arrays[value["$array"]]
    return value


def _component(part: object) -> dict[str, Any]:
    """A part as its kind and state. A subclass without a kind of its own (say, a decider that
    only changes how it fits) is stored as its nearest registered base class."""
    kinds = {cls: kind for kind, cls in _KINDS.items()}
    kind = next((kinds[cls] for cls in type(part).__mro__ if cls in kinds), None)
    if kind is None:
        raise ModelFormatError(f"{type(part).__qualname__} has no kind: see register_kind")
    return {"kind": kind, "state": cast(Component, part).to_state()}


def _part(document: dict[str, Any]) -> Any:
    cls = _KINDS.get(document["kind"])
    if cls is None:
        raise ModelFormatError(f"unknown kind {document['kind']!r}: see register_kind")
    return cls.from_state(document["state"])


def _model_document(model: TrainedModel) -> Document:
    confidence = model.confidence
    return {
        "version": model.version,
        "featurizer": _component(model.featurizer),
        "deciders": [_component(d) for d in model.deciders],
        "confidence": _component(confidence) if confidence is not None else None,
        "calibration": _calibration(model.calibration) if model.calibration else None,
        "calibration_data": _calibration_data(model.calibration_data),
        "label_counts": {str(label): int(n) for label, n in model.label_counts.items()},
        "novelty_floor": float(model.novelty_floor),
        "trained_on": model.trained_on,
        "cutoff": model.cutoff,
        "metrics": {str(name): float(value) for name, value in model.metrics.items()},
        "search_layout": _search_layout(model.search_layout),
        "memory_vectors": _memory_vectors(model.memory_vectors),
    }


def _model_from(document: Document) -> TrainedModel:
    confidence = document["confidence"]
    calibration = document["calibration"]
    data = document["calibration_data"]
    return TrainedModel(
        version=int(document["version"]),
        featurizer=_part(document["featurizer"]),
        deciders=tuple(_part(d) for d in document["deciders"]),
        confidence=_part(confidence) if confidence is not None else None,
        calibration=_calibration_from(calibration) if calibration is not None else None,
        calibration_data=CalibrationData(**data) if data is not None else None,
        label_counts={str(label): int(n) for label, n in document["label_counts"].items()},
        novelty_floor=float(document["novelty_floor"]),
        trained_on=int(document["trained_on"]),
        cutoff=int(document["cutoff"]),
        metrics={str(name): float(value) for name, value in document["metrics"].items()},
        search_layout=_search_layout_from(document["search_layout"]),
        memory_vectors=_memory_vectors_from(document["memory_vectors"]),
    )


def _search_layout(layout: SearchLayout | None) -> dict[str, Any] | None:
    if layout is None:
        return None
    common = None if layout.common is None else np.asarray(layout.common, dtype=np.int64)
    return {"common": common, "projection": np.asarray(layout.projection, dtype=np.float32)}


def _search_layout_from(document: dict[str, Any] | None) -> SearchLayout | None:
    if document is None:
        return None
    common = document["common"]
    return SearchLayout(
        common=None if common is None else np.asarray(common, dtype=np.int64),
        projection=np.ascontiguousarray(document["projection"], dtype=np.float32),
    )


def _memory_vectors(vectors: MemoryVectors | None) -> dict[str, Any] | None:
    """The memory's rows: a float32 CSR matrix's arrays and shape, or a dense array."""
    if vectors is None:
        return None
    rows = vectors.rows()
    stored: dict[str, Any] = {"size": vectors.size, "digest": vectors.digest}
    if not sparse.issparse(rows):
        return {**stored, "dense": np.ascontiguousarray(rows, dtype=np.float32)}
    csr = sparse.csr_matrix(rows)
    return {
        **stored,
        "width": int(csr.shape[1]),
        "data": np.asarray(csr.data, dtype=np.float32),
        "indices": csr.indices,
        "indptr": csr.indptr,
    }


def _memory_vectors_from(document: dict[str, Any] | None) -> MemoryVectors | None:
    if document is None:
        return None
    return MemoryVectors(int(document["size"]), str(document["digest"]), partial(_rows, document))


def _rows(document: dict[str, Any]) -> np.ndarray | sparse.csr_matrix:
    """The memory's rows a file holds (read from it now: see `_Deferred`)."""
    arrays = {
        key: value.load() if isinstance(value, _Deferred) else value
        for key, value in document.items()
    }
    size = int(arrays["size"])
    rows: np.ndarray | sparse.csr_matrix
    if "dense" in arrays:
        rows = np.asarray(arrays["dense"])
    else:
        shape = (size, int(arrays["width"]))
        rows = sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
    if rows.shape[0] != size or rows.dtype != np.float32:
        raise ModelFormatError(f"damaged model file: memory rows {rows.shape} of {rows.dtype}")
    return rows


# A calibration's region tests are stored as columns, one array per RegionTest field.
_TEST_COLUMNS: dict[str, type[np.generic]] = {
    "threshold": np.float64,
    "population": np.int64,
    "labelled": np.int64,
    "effective_n": np.float64,
    "weighted_error": np.float64,
    "upper_bound": np.float64,
    "passed": np.bool_,
}


def _calibration(calibration: Calibration) -> dict[str, Any]:
    threshold = calibration.threshold
    return {
        "threshold": None if threshold is None else float(threshold),
        "epsilon": float(calibration.epsilon),
        "delta": float(calibration.delta),
        "labelled": int(calibration.labelled),
        "population": int(calibration.population),
        "tests": {
            name: np.array([getattr(t, name) for t in calibration.tests], dtype=dtype)
            for name, dtype in _TEST_COLUMNS.items()
        },
    }


def _calibration_from(document: dict[str, Any]) -> Calibration:
    columns = [document["tests"][name].tolist() for name in _TEST_COLUMNS]
    tests = tuple(
        RegionTest(**dict(zip(_TEST_COLUMNS, row, strict=True)))
        for row in zip(*columns, strict=True)
    )
    threshold = document["threshold"]
    return Calibration(
        threshold=None if threshold is None else float(threshold),
        epsilon=float(document["epsilon"]),
        delta=float(document["delta"]),
        tests=tests,
        labelled=int(document["labelled"]),
        population=int(document["population"]),
    )


def _calibration_data(data: CalibrationData | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        "labelled_scores": np.asarray(data.labelled_scores, dtype=np.float64),
        "labelled_correct": np.asarray(data.labelled_correct, dtype=np.bool_),
        "unlabelled_scores": np.asarray(data.unlabelled_scores, dtype=np.float64),
    }
