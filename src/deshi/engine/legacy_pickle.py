"""Model versions stored as pickles before the model format: read once, to convert them.

Until format 1 (serialize.py), a model version was stored as `pickle.dumps(TrainedModel)`.
Database migration 0008 converts each stored one with `convert_pickled`; nothing else in deshi
reads a pickle. Unpickling here resolves only classes of deshi's engine, numpy, scipy and
scikit-learn, and the few functions their pickles name, so a tampered artifact cannot call
`os.system`; a pickle can still misbehave in other ways, so convert databases you trust.

Pickles name classes by module path: if an engine class that old pickles name moves, map its
old path in `_MOVED`. The layouts older deshi versions pickled are read here as well (a decider
that kept its scikit-learn SVM; a featurizer from before its word cache), so the engine classes
carry no code for them.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
from dataclasses import replace
from typing import Any

import numpy as np

from deshi.engine.learn import LinearDecider
from deshi.engine.model import TrainedModel
from deshi.engine.serialize import dump_model

__all__ = ["convert_pickled", "is_pickled"]

_CLASS_MODULES = ("deshi.engine", "numpy", "scipy", "sklearn")  # and their submodules
_FUNCTIONS = {
    ("_codecs", "encode"),  # bytes in protocol 2
    ("copyreg", "_reconstructor"),
    ("deshi.engine.featurize", "normalise"),  # the TF-IDF vectorizers' preprocessor
    *(
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    ),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
_BUILTINS = {"bytes", "bytearray", "complex", "frozenset", "set", "slice"}
_MOVED: dict[tuple[str, str], tuple[str, str]] = {}  # (old module, name) → (module, name)


def is_pickled(data: bytes) -> bool:
    """True for a pickle (protocol 2 or later, as deshi stored them), not a model file."""
    return data[:1] == b"\x80"


def convert_pickled(data: bytes) -> bytes:
    """A legacy pickled artifact as a model file (the current format)."""
    model = _RestrictedUnpickler(io.BytesIO(data)).load()
    if not isinstance(model, TrainedModel):
        raise pickle.UnpicklingError(f"a stored model version holds a {type(model).__name__}")
    _default_new_fields(model)
    deciders = tuple(_current_decider(d) for d in model.deciders)
    return dump_model(replace(model, deciders=deciders))


def _default_new_fields(model: TrainedModel) -> None:
    """Give the fields TrainedModel gained after the pickle was written their defaults (a slots
    dataclass sets from a pickle only the fields its state lists, in order)."""
    for field in dataclasses.fields(TrainedModel):
        if hasattr(model, field.name):
            continue
        if field.default is not dataclasses.MISSING:
            value = field.default
        elif field.default_factory is not dataclasses.MISSING:
            value = field.default_factory()
        else:
            raise pickle.UnpicklingError(f"a stored model version has no {field.name}")
        object.__setattr__(model, field.name, value)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        module, name = _MOVED.get((module, name), (module, name))
        if (module, name) in _FUNCTIONS:
            return super().find_class(module, name)
        if module in ("builtins", "__builtin__") and name in _BUILTINS:
            return super().find_class(module, name)
        if any(module == m or module.startswith(f"{m}.") for m in _CLASS_MODULES):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"a stored model may not name {module}.{name}")


def _current_decider(decider: Any) -> Any:
    """The decider in today's layout: deciders pickled before only the float32 weights were kept
    hold their scikit-learn SVM (`_svm`, None with a single class) instead."""
    state = vars(decider) if isinstance(decider, LinearDecider) else {}
    if "_svm" not in state:
        return decider
    svm = state["_svm"]
    if svm is None:
        weights = intercept = None
        classes = [str(c) for c in state.get("classes_", [])]
    else:
        weights = np.ascontiguousarray(svm.coef_.T, dtype=np.float32)
        intercept = np.asarray(svm.intercept_, dtype=np.float32)
        classes = [str(c) for c in svm.classes_]
    return LinearDecider.from_state(
        {"c": state["c"], "classes": classes, "weights": weights, "intercept": intercept}
    )
