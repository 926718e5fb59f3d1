"""Training a challenger: featurize, fit fold deciders, cross-fit confidence, calibrate."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from deshi.engine.confidence import Candidates, ConfidenceModel, Feature, build_candidates
from deshi.engine.featurize import Featurizer, Matrix
from deshi.engine.learn import Decider, LinearDecider
from deshi.engine.memory import Neighbours
from deshi.engine.model import CalibrationData, TrainedModel
from deshi.engine.search import SearchLayout, SimilarityIndex, layout_for

NEIGHBOURS = 10
FOLDS = 5  # fold deciders see 80% of the data, so out-of-fold scores resemble the final model's
PARALLEL_FROM = 1000  # labelled items from which deciders are fitted in parallel threads
# Each fit holds its own copy of its rows, about 28 bytes per stored value (scipy's row subset
# plus liblinear's), so two at once cost a second copy. Above this many values (BANKING77 with
# TF-IDF: 1.8M; with sentence embeddings beside the n-grams: 6.8M) they are fitted one by one.
PARALLEL_MAX_VALUES = 3_000_000
MIN_TRAIN = 20  # labelled items before a decider is trained (memory-only before)
NOVELTY_QUANTILE = 0.01  # inputs less similar to memory than 99% of known items are novel

DeciderFactory = Callable[[], Decider]


@dataclass(frozen=True, slots=True)
class Parallelism:
    """How many deciders a retrain fits at once, each in a thread: `threads` (None: one per
    CPU, counted when training starts) on data of at least `min_items` labelled items and at
    most `max_values` stored values; one at a time otherwise."""

    threads: int | None = None
    min_items: int = PARALLEL_FROM
    max_values: int = PARALLEL_MAX_VALUES

    def threads_for(self, items: int, values: int) -> int:
        """Deciders fitted at once on data of this size (1: one by one, no threads)."""
        if items < self.min_items or values > self.max_values:
            return 1
        return self.threads or os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Texts seen so far: labelled ones (in arrival order) and unlabelled auto-completed ones."""

    case_ids: list[str]
    texts: list[str]
    labels: np.ndarray  # object array
    unlabelled_texts: list[str]


@dataclass(frozen=True, slots=True)
class Scored:
    """Each item's best candidate: label, confidence, and the similarity of its nearest case."""

    labels: np.ndarray
    confidence: np.ndarray
    nearest: np.ndarray


def score_items(
    vectors: Matrix,
    texts: Sequence[str],
    decider: Decider | None,
    confidence: ConfidenceModel | None,
    neighbours: Neighbours,
    memory_labels: np.ndarray,
    label_counts: dict[str, int],
) -> tuple[Candidates, np.ndarray]:
    """Candidates for each item and their probabilities of being right."""
    classes: list[str] = []
    scores = None
    if decider is not None:
        classes, scores = decider.scores(vectors, texts, [() for _ in texts])
    candidates = build_candidates(classes, scores, neighbours, memory_labels, label_counts)
    if confidence is not None:
        probs = confidence.predict(candidates.features)
    else:  # memory only: the similarity-weighted vote is the best estimate there is
        features = candidates.features
        probs = features[:, Feature.MEMORY_VOTE] * features[:, Feature.NEAREST_SIMILARITY]
    return candidates, probs


def fold_of(key: str, seed: int, folds: int) -> int:
    """The fold an item belongs to, fixed by its id (or text) so a re-decision agrees."""
    digest = hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % folds


def score_with_deciders(
    vectors: Matrix,
    texts: Sequence[str],
    keys: Sequence[str],
    model: TrainedModel,
    neighbours: Neighbours,
    memory_labels: np.ndarray,
) -> tuple[Candidates, np.ndarray]:
    """Like `score_items`, each item scored by the fold decider its key hashes to."""
    if model.is_memory_only:
        return score_items(
            vectors, texts, None, None, neighbours, memory_labels, model.label_counts
        )
    k = len(model.deciders)
    if k == 1:  # the usual live model: one decider trained on everything
        return score_items(
            vectors,
            texts,
            model.deciders[0],
            model.confidence,
            neighbours,
            memory_labels,
            model.label_counts,
        )
    fold = np.array([fold_of(key, model.version, k) for key in keys], dtype=np.int64)
    parts: list[tuple[Candidates, np.ndarray]] = []
    for f in range(k):
        rows = np.flatnonzero(fold == f)
        if not len(rows):
            continue
        cands, probs = score_items(
            vectors[rows],
            [texts[int(i)] for i in rows],
            model.deciders[f],
            model.confidence,
            Neighbours(neighbours.indices[rows], neighbours.similarities[rows]),
            memory_labels,
            model.label_counts,
        )
        parts.append((Candidates(rows[cands.item], cands.labels, cands.features), probs))
    merged = Candidates(
        np.concatenate([c.item for c, _ in parts]),
        np.concatenate([c.labels for c, _ in parts]),
        np.vstack([c.features for c, _ in parts]),
    )
    return merged, np.concatenate([p for _, p in parts])


def best_of(
    candidates: Candidates, probs: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's most probable label and its probability."""
    best = candidates.best_per_item(probs, n_items)
    labels = np.asarray(np.where(best >= 0, candidates.labels[np.maximum(best, 0)], None))
    conf: np.ndarray = np.where(best >= 0, probs[np.maximum(best, 0)], 0.0).astype(np.float64)
    return labels, conf


def train_model(
    data: TrainingSet,
    featurizer: Featurizer,
    *,
    version: int,
    cutoff: int,
    epsilon: float,
    delta: float,
    seed: int,
    make_decider: DeciderFactory = LinearDecider,
    parallelism: Parallelism = Parallelism(),
) -> tuple[TrainedModel, Matrix]:
    """Fit a model version on the labelled items; returns it with the labelled items' vectors."""
    featurizer.fit([*data.texts, *data.unlabelled_texts])  # unsupervised: all texts are fair game
    vectors = featurizer.transform(data.texts)
    counts = dict(Counter(data.labels.tolist()))
    if len(data.texts) < MIN_TRAIN or len(counts) < 2:
        model = TrainedModel(
            version, featurizer, (), None, None, None, counts, 0.0, len(data.texts), cutoff
        )
        return model, vectors
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(data.texts)) % FOLDS
    layout = layout_for(vectors)  # shared by every index of these rows: one SVD per retrain
    with _Deciders(vectors, data, fold, make_decider, parallelism) as deciders:
        oof = _out_of_fold_candidates(
            vectors, featurizer, data, fold, deciders.for_fold, rng, layout
        )
        final = deciders.final()
    labelled_rows = oof.labelled_rows
    confidence = ConfidenceModel().fit(
        oof.candidates.features[labelled_rows], oof.targets[labelled_rows]
    )
    n = len(data.texts)
    cross = _cross_fitted_scores(oof, n + len(data.unlabelled_texts), rng)
    # Live items are scored by a decider trained on everything labelled (see docs/engine.md).
    correct = np.asarray(cross.labels[:n] == data.labels, dtype=bool)
    calibration_data = CalibrationData(cross.confidence[:n], correct, cross.confidence[n:])
    model = TrainedModel(
        version=version,
        featurizer=featurizer,
        deciders=(final,),
        confidence=confidence,
        calibration=calibration_data.calibrate(epsilon=epsilon, delta=delta),
        calibration_data=calibration_data,
        label_counts=counts,
        novelty_floor=float(np.quantile(oof.nearest, NOVELTY_QUANTILE)),
        trained_on=len(data.texts),
        cutoff=cutoff,
        metrics={"oof_accuracy": float(correct.mean())},
        search_layout=layout,
    )
    return model, vectors


@dataclass(frozen=True, slots=True)
class _OutOfFold:
    """Cross-fitted candidates of every item: rows for items < n_labelled carry targets."""

    candidates: Candidates
    targets: np.ndarray  # per candidate row; meaningful only for labelled items' rows
    nearest: np.ndarray  # nearest-case similarity per labelled item
    n_labelled: int

    @property
    def labelled_rows(self) -> np.ndarray:
        return self.candidates.item < self.n_labelled


class _Deciders:
    """The fold deciders (each trained without its fold) and the final one (on everything).

    Each fold's decider is wanted when its fold is scored and dropped after it; the final one is
    wanted last. On larger data they are fitted `threads` at a time (see `Parallelism`; liblinear
    releases the GIL, so a `Decider.fit` must not share mutable state between instances): the
    first time a decider is wanted, it and the next ones are fitted together, and each is
    handed out and dropped in turn. So at most `threads` deciders are alive at once, not all
    six, and fitting never overlaps the scoring of a fold (whose search index is hundreds of MB
    on long texts). On wide data (more than `Parallelism.max_values` stored values) they are
    fitted one at a time, so one decider and one copy of the rows are alive at a time.
    One by one, the same data gives the same weights bit for bit, in any order. In threads it
    does not quite: scikit-learn's liblinear draws its coordinate order from one process-wide
    generator, so two solvers running side by side interleave their draws, and weights differ
    by about 1e-5 from run to run (tests/engine/test_training.py). Use as a context manager:
    leaving it stops the threads.
    """

    def __init__(
        self,
        vectors: Matrix,
        data: TrainingSet,
        fold: np.ndarray,
        make_decider: DeciderFactory,
        parallelism: Parallelism,
    ) -> None:
        self._vectors, self._data, self._fold = vectors, data, fold
        self._make_decider = make_decider
        self._subsets = [np.flatnonzero(fold != f) for f in range(FOLDS)]
        self._subsets.append(np.arange(len(fold)))  # the final decider's: every item
        values = vectors.nnz if sparse.issparse(vectors) else vectors.size
        self.threads = parallelism.threads_for(len(fold), values)
        self._pool = ThreadPoolExecutor(max_workers=self.threads) if self.threads > 1 else None
        self._ready: dict[int, Decider] = {}

    def __enter__(self) -> _Deciders:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def for_fold(self, f: int) -> Decider:
        """The decider trained without fold `f`."""
        return self._take(f)

    def final(self) -> Decider:
        """The decider trained on every labelled item."""
        return self._take(FOLDS)

    def _take(self, index: int) -> Decider:
        if self._pool is None:
            return self._fit(self._subsets[index])
        if index not in self._ready:
            batch = range(index, min(index + self.threads, len(self._subsets)))
            fitted = self._pool.map(self._fit, [self._subsets[i] for i in batch])
            self._ready.update(zip(batch, fitted, strict=True))
        return self._ready.pop(index)

    def _fit(self, rows: np.ndarray) -> Decider:
        data = self._data
        texts = [data.texts[i] for i in rows]
        everything = len(rows) == len(self._fold)
        subset = self._vectors if everything else self._vectors[rows]  # the final: no copy
        return self._make_decider().fit(subset, texts, data.labels[rows].tolist())


def _out_of_fold_candidates(
    vectors: Matrix,
    featurizer: Featurizer,
    data: TrainingSet,
    fold: np.ndarray,
    decider_for: Callable[[int], Decider],
    rng: np.random.Generator,
    layout: SearchLayout | None,
) -> _OutOfFold:
    """Candidates from fold models that never saw the item.

    Unlabelled (auto-completed) items are scored by the same fold models, so that labelled and
    unlabelled scores come from one distribution; the post-stratification that corrects the
    selection bias compares like with like. They are split among the folds at random and
    vectorised one fold's share at a time.
    """
    n, m = len(data.texts), len(data.unlabelled_texts)
    unl_fold = rng.integers(0, FOLDS, m)
    parts: list[Candidates] = []
    nearest = np.zeros(n)
    for f in range(FOLDS):
        test, unl = np.flatnonzero(fold == f), np.flatnonzero(unl_fold == f)
        unl_texts = [data.unlabelled_texts[i] for i in unl]
        unl_vectors = featurizer.transform(unl_texts) if unl_texts else None
        labelled, unlabelled, nearest[test] = _fold_candidates(
            vectors, unl_vectors, unl_texts, data, fold != f, test, decider_for(f), layout
        )
        parts.append(Candidates(test[labelled.item], labelled.labels, labelled.features))
        if unlabelled is not None:
            parts.append(
                Candidates(n + unl[unlabelled.item], unlabelled.labels, unlabelled.features)
            )
    merged = Candidates(
        np.concatenate([p.item for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.vstack([p.features for p in parts]),
    )
    truth = np.concatenate([data.labels, np.full(m, None, dtype=object)])
    targets = (merged.labels == truth[merged.item]).astype(np.int64)
    return _OutOfFold(merged, targets, nearest, n)


def _fold_candidates(
    vectors: Matrix,
    unlabelled_vectors: Matrix | None,
    unlabelled_texts: list[str],
    data: TrainingSet,
    in_train: np.ndarray,
    test: np.ndarray,
    decider: Decider,
    layout: SearchLayout | None,
) -> tuple[Candidates, Candidates | None, np.ndarray]:
    """One fold's candidates for its labelled (`test`) and unlabelled items, and each labelled
    item's nearest-case similarity. The fold's search index lives only in here: on long texts it
    is hundreds of MB, and two folds' indexes must not be alive at once."""
    train_labels = data.labels[in_train]
    counts = dict(Counter(train_labels.tolist()))
    index = SimilarityIndex(_index_rows(vectors, np.flatnonzero(in_train)), layout=layout)

    def candidates(rows: Matrix, texts: list[str]) -> tuple[Candidates, np.ndarray]:
        idx, sims = index.top_k(rows, NEIGHBOURS)
        found, _ = score_items(
            rows, texts, decider, None, Neighbours(idx, sims), train_labels, counts
        )
        return found, sims[:, 0] if sims.shape[1] else np.zeros(rows.shape[0])

    labelled, nearest = candidates(vectors[test], [data.texts[i] for i in test])
    unlabelled = None
    if unlabelled_vectors is not None:
        unlabelled, _ = candidates(unlabelled_vectors, unlabelled_texts)
    return labelled, unlabelled, nearest


def _index_rows(vectors: Matrix, rows: np.ndarray) -> Matrix:
    """`vectors[rows]` in float32, to be indexed: an index keeps float32 values anyway (the same
    ones), and its corpus stays alive while it is built, so this saves a third of that copy."""
    return vectors[rows].astype(np.float32, copy=False)


def _cross_fitted_scores(oof: _OutOfFold, n_items: int, rng: np.random.Generator) -> Scored:
    """Each item's best candidate, scored by a confidence model fitted on the other half of the
    labelled items (so no labelled item's score comes from a model that saw its label)."""
    half = rng.permutation(n_items) % 2
    probs = np.zeros(len(oof.targets))
    row_half = half[oof.candidates.item]
    for h in (0, 1):
        fit_rows = (row_half != h) & oof.labelled_rows
        model = ConfidenceModel().fit(oof.candidates.features[fit_rows], oof.targets[fit_rows])
        probs[row_half == h] = model.predict(oof.candidates.features[row_half == h])
    labels, conf = best_of(oof.candidates, probs, n_items)
    return Scored(labels, conf, np.zeros(n_items))


def holdout_accuracy(
    model: TrainedModel,
    train_vectors: Matrix,
    train_labels: np.ndarray,
    holdout_vectors: Matrix,
    holdout_texts: Sequence[str],
    holdout_labels: np.ndarray,
    *,
    train_rows: np.ndarray | None = None,
) -> int:
    """Number of held-out items a model (with the given memory) labels correctly; the memory is
    searched with the model's search layout (no SVD of its own). With `train_rows`, the memory
    is those rows of `train_vectors` (`train_labels` are theirs): the copy is made in here and
    dropped once indexed, so it is not alive during the search (tens of MB on a large history).
    """
    if len(holdout_texts) == 0:
        return 0
    memory = train_vectors if train_rows is None else _index_rows(train_vectors, train_rows)
    index = SimilarityIndex(memory, layout=model.search_layout)
    del memory
    idx, sims = index.top_k(holdout_vectors, NEIGHBOURS)
    cands, probs = score_with_deciders(
        holdout_vectors,
        holdout_texts,
        holdout_texts,
        model,
        Neighbours(idx, sims),
        train_labels,
    )
    labels, _ = best_of(cands, probs, len(holdout_texts))
    return int((labels == holdout_labels).sum())
