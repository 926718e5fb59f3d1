"""Streaming readers for a team's labelled history: CSV, TSV, JSONL and Excel `.xlsx`.

A file is opened as a `Table` (its header and an iterator of raw records, one at a time), and
`mapped_rows` turns records into `HistoryRow`s by a `ColumnMap`. Nothing holds more than one
record, so a file of any length reads in bounded memory. Every problem is a `ValidationFailed`
naming the row (as numbered in the file: the header is row 1) or the column.

CSV and TSV are read as UTF-8 (a BOM is allowed). When the first 64 KiB are not UTF-8 but are
Shift_JIS (cp932, what Japanese Excel writes when it saves CSV), the file is read as cp932 and
`Table.encoding` says so; bytes that fit neither stop the import at their row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from deshi.errors import ValidationFailed

__all__ = [
    "FORMATS",
    "ColumnMap",
    "HistoryRow",
    "Table",
    "batches",
    "detect_format",
    "mapped_rows",
    "open_table",
    "preview",
]

FORMATS = ("csv", "tsv", "jsonl", "xlsx")
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_SAMPLE_BYTES = 64 * 1024
MAX_TEXT_CHARS = 20_000  # as a live item (deshi.items.service.IngestLimits)
MAX_LABEL_CHARS = 200
MAX_ID_CHARS = 200
csv.field_size_limit(10 * 1024 * 1024)  # a long ticket body is one field, not an error
T = TypeVar("T")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes the decoder could not read (surrogateescape)


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which columns hold what: text and label are required, the rest optional.

    `handling` holds the seconds a person spent on the item in the source system.
    """

    text: str
    label: str
    id: str | None = None
    time: str | None = None
    fields: tuple[str, ...] = ()
    handling: str | None = None

    def columns(self) -> list[str]:
        """Every column this map reads, in the order the user gave them."""
        named = [self.text, self.label, self.id, self.time, *self.fields, self.handling]
        return [name for name in named if name is not None]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One record as deshi stores it; `text` or `label` empty means the row is skipped."""

    row: int  # as numbered in the file (header = 1)
    text: str
    label: str
    external_id: str | None = None
    time: datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    handling_seconds: float | None = None


@dataclass(slots=True)
class Table:
    """An opened file: its format, encoding, header, and a one-pass iterator of records."""

    format: str
    encoding: str | None
    columns: list[str]
    records: Iterator[tuple[int, dict[str, Any]]]


def detect_format(name: str) -> str:
    """The format a file name's suffix says; ValidationFailed for anything else."""
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        return "xlsx"
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise ValidationFailed(
        f"{Path(name).name}: not a history file deshi reads (.csv, .tsv, .jsonl or .xlsx)",
        field="file",
    )


def open_table(stream: IO[bytes], fmt: str) -> Table:
    """Open a seekable binary stream (a file, an upload) as a table; it must stay open while
    the records are read. ValidationFailed when it is empty or has no header."""
    if fmt in ("csv", "tsv"):
        return _delimited(stream, "\t" if fmt == "tsv" else ",", fmt)
    if fmt == "jsonl":
        return _jsonl(stream)
    if fmt == "xlsx":
        return _xlsx(stream)
    raise ValidationFailed(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")


def _choose_encoding(sample: bytes, at_end: bool) -> str:
    """utf-8-sig for a BOM, utf-8 when the sample decodes so, else cp932 when that fits."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=at_end)
        return "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            decoded = codecs.getincrementaldecoder("cp932")().decode(sample, final=at_end)
            if _PRIVATE_USE.search(decoded):  # what stray bytes 0xFD-0xFF become in cp932
                raise UnicodeDecodeError("cp932", sample, 0, 1, "private use")
        except UnicodeDecodeError:
            raise ValidationFailed(
                f"the file is neither UTF-8 nor Shift_JIS (byte {utf8_error.start + 1}): "
                "save it as UTF-8 CSV",
                field="file",
            ) from None
        return "cp932"


def _delimited(stream: IO[bytes], delimiter: str, fmt: str) -> Table:
    start = stream.tell()
    sample = stream.read(_SAMPLE_BYTES)
    stream.seek(start)
    if not sample.strip():
        raise ValidationFailed("the file is empty", field="file")
    encoding = _choose_encoding(sample, at_end=len(sample) < _SAMPLE_BYTES)
    # Undecodable bytes become lone surrogates, found in the row they are in (a strict decoder
    # fails on a whole read-ahead chunk, rows before the culprit).
    text = io.TextIOWrapper(
        io.BufferedReader(_Unclosing(stream)),
        encoding=encoding,
        errors="surrogateescape",
        newline="",
    )
    reader = csv.reader(text, delimiter=delimiter)
    header = _next_or_fail(reader, 1, encoding)
    if any(_ESCAPED.search(name) for name in header):
        raise _undecodable(1, encoding)
    columns = [name.strip() for name in header]
    if not any(columns):
        raise ValidationFailed("the file's first row (its header) is empty", field="file")
    return Table(fmt, encoding, columns, _delimited_records(reader, columns, encoding))


class _Unclosing(io.RawIOBase):
    """The caller's stream, readable through a TextIOWrapper that must not close it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _next_or_fail(reader: Any, row: int, encoding: str) -> list[str]:
    try:
        record: list[str] = next(reader)
        return record
    except StopIteration:
        raise ValidationFailed("the file is empty", field="file") from None
    except UnicodeDecodeError:
        raise _undecodable(row, encoding) from None
    except csv.Error as exc:
        raise ValidationFailed(f"row {row}: {exc}", field="file") from None


def _undecodable(row: int, encoding: str) -> ValidationFailed:
    name = "Shift_JIS" if encoding == "cp932" else "UTF-8"
    return ValidationFailed(
        f"row {row}: bytes that are not valid {name}; save the file as UTF-8", field="file"
    )


def _delimited_records(
    reader: Any, columns: list[str], encoding: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    while True:
        row = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise _undecodable(row, encoding) from None
        except csv.Error as exc:
            raise ValidationFailed(f"row {row}: {exc}", field="file") from None
        if any(_ESCAPED.search(value) for value in values):
            raise _undecodable(row, encoding)
        if not any(value.strip() for value in values):
            continue  # an empty line: nothing to count
        yield row, dict(zip(columns, values, strict=False))


def _jsonl(stream: IO[bytes]) -> Table:
    lines = _jsonl_records(stream)
    first = next(lines, None)
    if first is None:
        raise ValidationFailed("the file is empty", field="file")

    def records() -> Iterator[tuple[int, dict[str, Any]]]:
        yield first
        yield from lines

    return Table("jsonl", "utf-8", list(first[1]), records())


def _jsonl_records(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise _undecodable(number, "utf-8") from None
        except ValueError as exc:
            raise ValidationFailed(f"row {number}: not JSON ({exc})", field="file") from None
        if not isinstance(record, dict):
            raise ValidationFailed(f"row {number}: not a JSON object", field="file")
        yield number, record


def _xlsx(stream: IO[bytes]) -> Table:
    from openpyxl import load_workbook  # imported here: only Excel files need it

    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException...
        raise ValidationFailed(f"not a readable .xlsx workbook ({exc})", field="file") from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None or not any(cell is not None for cell in header):
        book.close()
        raise ValidationFailed("the file is empty", field="file")
    columns = ["" if cell is None else str(cell).strip() for cell in header]

    def records() -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            for number, values in enumerate(rows, start=2):
                if all(value is None or str(value).strip() == "" for value in values):
                    continue
                yield number, dict(zip(columns, values, strict=False))
        finally:
            book.close()

    return Table("xlsx", None, columns, records())


def preview(table: Table, limit: int = 5) -> list[dict[str, str]]:
    """The first `limit` records as text, for a person to check the mapping."""
    shown: list[dict[str, str]] = []
    for _, record in table.records:
        shown.append({name: _as_text(record.get(name)) for name in table.columns})
        if len(shown) >= limit:
            break
    return shown


def mapped_rows(table: Table, mapping: ColumnMap) -> Iterator[HistoryRow]:
    """The table's records as history rows; ValidationFailed for a missing column (listing
    the ones found) or a value that cannot be read (naming its row)."""
    missing = [name for name in mapping.columns() if name not in table.columns]
    if missing:
        found = ", ".join(repr(c) for c in table.columns if c) or "none"
        raise ValidationFailed(
            f"no column {missing[0]!r} in the file; its columns are: {found}", field=missing[0]
        )
    for number, record in table.records:
        yield _mapped(number, record, mapping)


def _mapped(number: int, record: dict[str, Any], mapping: ColumnMap) -> HistoryRow:
    text = _as_text(record.get(mapping.text)).strip()
    label = _as_text(record.get(mapping.label)).strip()
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationFailed(
            f"row {number}: the text is longer than {MAX_TEXT_CHARS} characters",
            field=mapping.text,
        )
    if len(label) > MAX_LABEL_CHARS:
        raise ValidationFailed(
            f"row {number}: the label is longer than {MAX_LABEL_CHARS} characters",
            field=mapping.label,
        )
    external_id = None
    if mapping.id is not None:
        external_id = _as_text(record.get(mapping.id)).strip() or None
        if external_id is not None and len(external_id) > MAX_ID_CHARS:
            raise ValidationFailed(
                f"row {number}: the id is longer than {MAX_ID_CHARS} characters", field=mapping.id
            )
    return HistoryRow(
        row=number,
        text=text,
        label=label,
        external_id=external_id,
        time=_as_time(record.get(mapping.time), number, mapping.time) if mapping.time else None,
        fields={name: _as_field(record.get(name)) for name in mapping.fields},
        handling_seconds=_as_seconds(record.get(mapping.handling), number, mapping.handling)
        if mapping.handling
        else None,
    )


def _as_text(value: Any) -> str:
    """A cell as text: Excel's whole floats lose their ".0" (an id 1234 is "1234")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _as_field(value: Any) -> Any:
    """A structured field as JSON can hold it."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return _as_text(value)


def _as_time(value: Any, number: int, column: str | None) -> datetime | None:
    """A timestamp: an Excel date, or ISO 8601 text ("2024-03-01 09:30", "2024/03/01");
    naive times are taken as UTC."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("/", "-"))
        except ValueError:
            raise ValidationFailed(
                f"row {number}: {str(value)[:40]!r} is not a date and time (use ISO 8601)",
                field=column,
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _as_seconds(value: Any, number: int, column: str | None) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ValidationFailed(
            f"row {number}: handling time {str(value)[:40]!r} is not a number of seconds",
            field=column,
        )
    return seconds


def batches(rows: Iterator[T], size: int) -> Iterator[list[T]]:
    """Rows in lists of at most `size`, so a caller holds one batch at a time."""
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
