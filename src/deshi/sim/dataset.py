"""Load labelled history (CSV, TSV, JSONL or a bundled data set) into a stream for a backtest.

Every problem with the input is raised as `DatasetError`, a `ValueError` whose message is one
line naming the file (and the line or column) so that the CLI can print it as it is.
Blank texts and blank labels are not errors: such rows are skipped and counted.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "BUNDLED",
    "SUPPORTED_SUFFIXES",
    "Dataset",
    "DatasetError",
    "LabelledItem",
    "load_bundled",
    "load_dataset",
]

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")

# Bundled data sets: name -> (files in stream order, text column, label column).
BUNDLED: Mapping[str, tuple[tuple[str, ...], str, str]] = {
    "banking77": (("train.csv", "test.csv"), "text", "category"),
}


class DatasetError(ValueError):
    """The input cannot be backtested; the message is one line that says why and where."""


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """One historical item: its text and the label a human gave it."""

    case_id: str
    text: str
    label: str


@dataclass(frozen=True, slots=True)
class Dataset:
    """Labelled items in stream order, with where they came from and what was skipped."""

    source: str
    items: tuple[LabelledItem, ...]
    skipped_blank_text: int = 0
    skipped_blank_label: int = 0

    @property
    def labels(self) -> tuple[str, ...]:
        """The distinct labels, sorted."""
        return tuple(sorted({item.label for item in self.items}))

    @property
    def grouped_by_label(self) -> bool:
        """True when items come in long blocks of one label (e.g. a file sorted by label).

        Replayed in that order, every new block is a label the agent has never seen, which
        says little about a live stream; a shuffled replay is then the better estimate.
        """
        pairs = len(self.items) - 1
        if pairs < 1:
            return False
        same = sum(a.label == b.label for a, b in itertools.pairwise(self.items))
        counts = Counter(item.label for item in self.items).values()
        expected = sum((count / len(self.items)) ** 2 for count in counts)  # in random order
        return same / pairs >= 0.9 and same / pairs > 2 * expected

    def shuffled(self, seed: int | None) -> Dataset:
        """The same items in an order drawn from `seed`; file order when `seed` is None."""
        if seed is None:
            return self
        items = list(self.items)
        random.Random(seed).shuffle(items)
        return replace(self, items=tuple(items))

    def head(self, limit: int | None) -> Dataset:
        """The first `limit` items (all of them when `limit` is None)."""
        if limit is None:
            return self
        return replace(self, items=self.items[:limit])

    def renamed(self, prefix: str) -> Dataset:
        """The same items with `prefix` before each case id (history and live rows both start
        at "row-1", and the agent keys audits and folds by case id)."""
        items = tuple(replace(item, case_id=f"{prefix}{item.case_id}") for item in self.items)
        return replace(self, items=items)

    def require_backtestable(self) -> Dataset:
        """Return self, or raise DatasetError when there are no items or only one label."""
        if not self.items:
            raise DatasetError(f"{self.source}: no rows with both a text and a label")
        labels = self.labels
        if len(labels) < 2:
            raise DatasetError(
                f"{self.source}: only one distinct label ({labels[0]!r}) among "
                f"{len(self.items)} items; a backtest needs at least two"
            )
        return self


def load_dataset(path: Path, *, text_col: str, label_col: str) -> Dataset:
    """Read a .csv, .tsv, .jsonl or .ndjson file of labelled items (UTF-8, BOM allowed)."""
    rows = _read_rows(path)
    return _to_dataset(str(path), rows, text_col=text_col, label_col=label_col)


def load_bundled(
    name: str, *, text_col: str | None = None, label_col: str | None = None
) -> Dataset:
    """Load a data set shipped inside the package (see `BUNDLED`), files concatenated in order.

    The columns default to the data set's own text and label columns.
    """
    if name not in BUNDLED:
        known = ", ".join(sorted(BUNDLED))
        raise DatasetError(f"no bundled data set named {name!r} (available: {known})")
    files, default_text_col, default_label_col = BUNDLED[name]
    text_col, label_col = text_col or default_text_col, label_col or default_label_col
    folder = resources.files("deshi").joinpath("data", name)
    rows: list[_Row] = []
    for file_name in files:
        text = folder.joinpath(file_name).read_text(encoding="utf-8-sig")
        rows.extend(_csv_rows(text, source=f"{name}/{file_name}", delimiter=","))
    return _to_dataset(name, rows, text_col=text_col, label_col=label_col)


@dataclass(frozen=True, slots=True)
class _Row:
    """One parsed record: where it is (for messages) and its fields."""

    where: str  # e.g. "line 7 of data.csv"
    fields: Mapping[str, Any]


def _read_rows(path: Path) -> list[_Row]:
    """Decode the file and parse it by its suffix into rows; raise DatasetError on any problem."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(SUPPORTED_SUFFIXES)
        raise DatasetError(f"{path}: unsupported file type {suffix or '(none)'!r} (use {allowed})")
    text = _read_utf8(path)
    if not text.strip():
        raise DatasetError(f"{path} is empty")
    if suffix in (".jsonl", ".ndjson"):
        return list(_jsonl_rows(text, source=str(path)))
    return list(_csv_rows(text, source=str(path), delimiter="\t" if suffix == ".tsv" else ","))


def _read_utf8(path: Path) -> str:
    """The file's text, decoded as UTF-8 with an optional BOM."""
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if not path.is_file():
        raise DatasetError(f"{path} is not a file")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"{path} is not UTF-8 (undecodable byte at offset {error.start}); re-save it as UTF-8"
        ) from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror})") from None


def _csv_rows(text: str, *, source: str, delimiter: str) -> Iterator[_Row]:
    """Rows of a delimited file with a header line; a header-only file has no rows."""
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        if reader.fieldnames is None:
            raise DatasetError(f"{source} is empty")
        for record in reader:
            yield _Row(where=f"line {reader.line_num} of {source}", fields=record)
    except csv.Error as error:
        raise DatasetError(
            f"line {reader.line_num} of {source} is not valid CSV: {error}"
        ) from None


def _jsonl_rows(text: str, *, source: str) -> Iterator[_Row]:
    """One JSON object per non-blank line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number} of {source}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{where} is not valid JSON: {error.msg}") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{where} is not a JSON object")
        yield _Row(where=where, fields=record)


def _to_dataset(source: str, rows: Iterable[_Row], *, text_col: str, label_col: str) -> Dataset:
    """Pick the text and label columns out of the rows, skipping and counting blank ones."""
    rows = list(rows)
    if not rows:
        raise DatasetError(f"{source} has no data rows")
    _require_columns(source, rows, (text_col, label_col))
    items: list[LabelledItem] = []
    blank_text = blank_label = 0
    for index, row in enumerate(rows, start=1):
        _require_columns(row.where, [row], (text_col, label_col))
        text, label = _cell(row.fields[text_col]), _cell(row.fields[label_col])
        if not text.strip():
            blank_text += 1
        elif not label.strip():
            blank_label += 1
        else:
            items.append(LabelledItem(case_id=f"row-{index}", text=text, label=label.strip()))
    return Dataset(source, tuple(items), blank_text, blank_label)


def _require_columns(where: str, rows: list[_Row], columns: Iterable[str]) -> None:
    """Raise DatasetError naming the first missing column and listing the ones present."""
    present = list(dict.fromkeys(key for row in rows[:1] for key in row.fields if key is not None))
    for column in columns:
        if column not in present:
            available = ", ".join(repr(name) for name in present) or "none"
            raise DatasetError(f"{where}: no column {column!r} (available: {available})")


def _cell(value: object) -> str:
    """A field as text: missing and null cells are blank; numbers and booleans are stringified."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)
