"""Stored model versions: numpy arrays and one JSON document in a zip file, never a pickle.

A pickle runs whatever code it names when it is loaded, so a database of pickled models could
run code in every process that reads it, and a pickle breaks when an engine class moves. A model
file holds data only, and is read with `json` and `numpy.load(..., allow_pickle=False)`:

- `model.json`: `{"format": "deshi-model", "format_version": 4, "model": {...}}`, the model's
  scalars, labels and vocabularies, with each array replaced by `{"$array": "<name>"}`;
- `arrays/<name>.npy`: the arrays, in numpy's own `.npy` format (deflated, except the case
  memory's search index: a restore reads it, in a third of the time when stored as it is).

Engine parts are stored by a stable kind name, never a module path: `{"kind": "linear-svm",
"state": {...}}`, the state being what the part's `to_state()` returns and its `from_state()`
takes back. Another Decider becomes storable with `register_kind`. docs/engine.md ("Stored
models") lists every key and the versioning rule; tests/engine/data holds a sample file of each
format version, which must keep loading.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, Protocol, Self, cast

import numpy as np
from scipy import sparse

from deshi.engine.confidence import ConfidenceModel
from deshi.engine.featurize import (
    EmbeddingFeaturizer,
    HybridFeaturizer,
    Matrix,
    TfidfFeaturizer,
)
from deshi.engine.featurize_multilingual import E5Featurizer, MultilingualFeaturizer
from deshi.engine.learn import LinearDecider
from deshi.engine.memory import MemoryVectors
from deshi.engine.model import CalibrationData, TrainedModel
from deshi.engine.policy import Calibration, RegionTest
from deshi.engine.search import IndexArrays, SearchLayout, SimilarityIndex

__all__ = [
    "ALIGN",
    "FORMAT",
    "FORMAT_VERSION",
    "UNCOMPRESSED",
    "UPGRADES",
    "ModelFormatError",
    "PickledModelError",
    "dump_model",
    "load_model",
    "register_kind",
    "without_memory_vectors",
]

FORMAT = "deshi-model"
FORMAT_VERSION = 4
DOCUMENT = "model.json"
ARRAYS = "arrays/"
UNCOMPRESSED = f"{ARRAYS}memory_vectors/"  # members written as they are (see the module)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same model gives the same bytes
ALIGN = 64  # uncompressed members' data starts at a multiple of this in the file (see _write_array)
_ALIGNMENT_FIELD = 0xD935  # the extra field that pads a local header to it (zipalign's id)

Document = dict[str, Any]  # model.json, its array references replaced by the arrays
# UPGRADES[v] turns a version-v document into a version v + 1 one. A change to the format
# raises FORMAT_VERSION, adds the step here and a sample file of the old version to
# tests/engine/data: stored models are upgraded as they load.
UPGRADES: dict[int, Callable[[Document], Document]] = {
    1: lambda document: {**document, "model": {**document["model"], "search_layout": None}},
    2: lambda document: {**document, "model": {**document["model"], "memory_vectors": None}},
    3: lambda document: document,  # format 3's memory rows are still read as they are
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
    """The model file without its case memory's index (or rows), or None when it holds none
    (or is not a model file of this format). Only the deciding version's index spares a
    restore its vectorising and indexing; a retired champion's is about 1.6 KB a case (164 MB
    at 100,000 short texts) that a rollback to it can do without: it vectorises again."""
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
    # The memory's index: its rows (113 MB for 100,000 short texts) were read in 0.2 s as
    # they are, in 0.6 s deflated (68 MB); written straight into the archive, without a copy,
    # its data aligned to ALIGN bytes in the file, so a reader can take it where it lies.
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_STORED
    zip64 = array.nbytes > 1 << 30
    assert archive.fp is not None
    # The local header: 30 bytes, the name, the extra field, and zip64's 20 bytes if used.
    start = archive.fp.tell() + 30 + len(name.encode()) + (20 if zip64 else 0)
    padding = -(start + 4) % ALIGN
    info.extra = struct.pack("<HH", _ALIGNMENT_FIELD, padding) + bytes(padding)
    with archive.open(info, "w", force_zip64=zip64) as member:
        np.save(member, array, allow_pickle=False)  # its header pads the data to 64 bytes


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
    """An array of the file read when first wanted: the memory's index (or rows). A restore
    reads the champion's; the other versions it loads (the newest ones, often the champion
    before) stored theirs too, and they are never read."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name

    def load(self) -> np.ndarray:
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
                info = archive.getinfo(self.name)
                if info.compress_type == zipfile.ZIP_STORED:
                    viewed = _stored_array(self.data, info)
                    if viewed is not None:
                        return viewed
                array: np.ndarray = np.load(archive.open(info), allow_pickle=False)
                return array
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise ModelFormatError(f"damaged model file: {exc!r}") from exc


def _stored_array(data: bytes, info: zipfile.ZipInfo) -> np.ndarray | None:
    """A `.npy` member written without compression, as a read-only array over the file's own
    bytes: no copy. The memory's index is 165 MB at 100,000 short texts, and copying it out
    cost a restore 0.1–0.5 s, most of it the fresh memory's page faults. Its size is checked
    against the member's, not its CRC (the index's arrays are checked to fit together). None
    (read it as a copy) when its data is not aligned to ALIGN bytes in the file, or for a
    `.npy` version this does not read (numpy writes 1.0 unless the header is huge)."""
    local = data[info.header_offset : info.header_offset + 30]
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    head = io.BytesIO(data[start : start + min(info.file_size, 1 << 16)])
    version = np.lib.format.read_magic(head)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
    else:
        return None
    if dtype.hasobject:
        raise ValueError(f"{info.filename} holds objects")
    count = math.prod(shape)
    if head.tell() + count * dtype.itemsize != info.file_size:
        raise ValueError(f"{info.filename}: {shape} of {dtype} is not {info.file_size} bytes")
    offset = start + head.tell()
    if offset % ALIGN:  # written before format 4: BLAS reads unaligned data 8 times slower
        return None
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C") if flat.flags.aligned else None


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
        "memory_vectors": _memory_vectors(model.memory_vectors, model.search_layout),
    }


def _model_from(document: Document) -> TrainedModel:
    confidence = document["confidence"]
    calibration = document["calibration"]
    data = document["calibration_data"]
    layout = _search_layout_from(document["search_layout"])
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
        search_layout=layout,
        memory_vectors=_memory_vectors_from(document["memory_vectors"], layout),
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


def _memory_vectors(
    vectors: MemoryVectors | None, layout: SearchLayout | None
) -> dict[str, Any] | None:
    """The memory's search index (format 4): the arrays it is made of, so a restore does not
    build it. An index that did not use the model's layout (none does, but the file must be
    true to the model) stores the rows it was built from instead, as format 3 did."""
    if vectors is None:
        return None
    stored: dict[str, Any] = {"size": vectors.size, "digest": vectors.digest}
    index = vectors.index(layout)
    if layout is None or index.layout is not layout:
        return {**stored, **_matrix(vectors.rows())}
    arrays = index.arrays()
    tail = arrays.sparse_t
    return {
        **stored,
        "index": {
            "rows": _matrix(arrays.rows),
            "dense_t": np.ascontiguousarray(arrays.dense_t, dtype=np.float32),
            "common": None if arrays.common is None else np.asarray(arrays.common, np.int64),
            "rare": None if arrays.rare is None else np.asarray(arrays.rare, np.int64),
            "tail_t": None if tail is None else _matrix(tail),
        },
    }


def _memory_vectors_from(
    document: dict[str, Any] | None, layout: SearchLayout | None
) -> MemoryVectors | None:
    if document is None:
        return None
    size, digest = int(document["size"]), str(document["digest"])
    if "index" not in document:  # format 3: the rows
        return MemoryVectors(size, digest, partial(_rows, document))
    if layout is None:
        raise ModelFormatError("damaged model file: a memory index without a search layout")
    return MemoryVectors(size, digest, partial(_index, size, document["index"], layout))


def _matrix(matrix: Matrix) -> dict[str, Any]:
    """A float32 CSR matrix's arrays and width, or a dense array."""
    if not sparse.issparse(matrix):
        return {"dense": np.ascontiguousarray(matrix, dtype=np.float32)}
    csr = sparse.csr_matrix(matrix)
    return {
        "width": int(csr.shape[1]),
        "data": np.asarray(csr.data, dtype=np.float32),
        "indices": csr.indices,
        "indptr": csr.indptr,
    }


def _matrix_from(arrays: dict[str, Any]) -> np.ndarray | sparse.csr_matrix:
    if "dense" in arrays:
        return np.asarray(arrays["dense"])
    shape = (len(arrays["indptr"]) - 1, int(arrays["width"]))
    return sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)


def _loaded(value: Any) -> Any:
    """`value` with every array the file defers read now (see `_Deferred`)."""
    if isinstance(value, _Deferred):
        return value.load()
    if isinstance(value, dict):
        return {key: _loaded(item) for key, item in value.items()}
    return value


def _index(size: int, document: dict[str, Any], layout: SearchLayout) -> SimilarityIndex:
    """The memory's search index a file holds (read from it now: see `_Deferred`)."""
    arrays = _loaded(document)
    tail = arrays["tail_t"]
    common, rare = arrays["common"], arrays["rare"]
    stored = IndexArrays(
        size=size,
        rows=_matrix_from(arrays["rows"]),
        dense_t=np.asarray(arrays["dense_t"]),
        common=None if common is None else np.asarray(common),
        rare=None if rare is None else np.asarray(rare),
        sparse_t=None if tail is None else sparse.csr_matrix(_matrix_from(tail)),
    )
    if stored.dense_t.dtype != np.float32 or stored.rows.dtype != np.float32:
        raise ModelFormatError("damaged model file: memory index arrays are not float32")
    try:
        return SimilarityIndex.from_arrays(stored, layout)
    except ValueError as exc:
        raise ModelFormatError(f"damaged model file: {exc}") from exc


def _rows(document: dict[str, Any]) -> np.ndarray | sparse.csr_matrix:
    """The memory's rows a format-3 file holds (read from it now: see `_Deferred`)."""
    arrays = _loaded(document)
    size = int(arrays["size"])
    rows = _matrix_from(arrays)
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
