"""The history readers: each format, encodings, and every bad input named by row or column."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from deshi.errors import ValidationFailed
from deshi.history.reader import (
    ColumnMap,
    HistoryRow,
    batches,
    detect_format,
    mapped_rows,
    open_table,
    preview,
)

MAPPING = ColumnMap(text="text", label="label", id="id", time="closed", fields=("amount",))


def _read(data: bytes, fmt: str, mapping: ColumnMap = MAPPING) -> list[HistoryRow]:
    return list(mapped_rows(open_table(io.BytesIO(data), fmt), mapping))


def test_csv_rows_map_to_text_label_id_time_and_fields() -> None:
    data = b"id,text,label,closed,amount\nT1,my card is lost,lost_card,2024-03-01 09:30,12\n"
    [row] = _read(data, "csv")
    assert (row.row, row.external_id, row.text, row.label) == (
        2,
        "T1",
        "my card is lost",
        "lost_card",
    )
    assert row.time == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    assert row.fields == {"amount": "12"}


def test_tsv_reads_tabs_and_quoted_newlines_stay_in_one_field() -> None:
    data = b'id\ttext\tlabel\tclosed\tamount\nA\t"two\nlines"\tx\t\t\n'
    [row] = _read(data, "tsv")
    assert row.text == "two\nlines"
    assert row.time is None


def test_jsonl_reads_one_object_a_line() -> None:
    lines = [{"id": 7, "text": "refund please", "label": "refund", "closed": None, "amount": 3.5}]
    data = "\n".join(json.dumps(x) for x in lines).encode()
    [row] = _read(data, "jsonl")
    assert (row.external_id, row.label, row.fields) == ("7", "refund", {"amount": 3.5})


def test_xlsx_reads_the_first_sheet_with_dates_and_whole_numbers(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "text", "label", "closed", "amount"])
    sheet.append([1001, "請求書の金額が違います", "billing", datetime(2024, 4, 2, 10, 0), 5])
    sheet.append([None, None, None, None, None])  # an empty row is not a row
    sheet.append([1002, "カードが届かない", "card", None, None])
    path = tmp_path / "history.xlsx"
    book.save(path)
    with path.open("rb") as stream:
        rows = list(mapped_rows(open_table(stream, "xlsx"), MAPPING))
    assert [r.external_id for r in rows] == ["1001", "1002"]
    assert [r.row for r in rows] == [2, 4]
    assert rows[0].time == datetime(2024, 4, 2, 10, 0, tzinfo=UTC)
    assert rows[1].text == "カードが届かない"


def test_japanese_excel_csv_in_shift_jis_is_read_and_says_so() -> None:
    data = "text,label\n請求書の再発行をお願いします,請求\n住所を変更したい,変更\n".encode("cp932")
    table = open_table(io.BytesIO(data), "csv")
    rows = list(mapped_rows(table, ColumnMap("text", "label")))
    assert table.encoding == "cp932"
    assert [r.label for r in rows] == ["請求", "変更"]


def test_utf8_with_a_bom_has_a_clean_first_column() -> None:
    table = open_table(io.BytesIO("text,label\nこんにちは,a\n".encode("utf-8-sig")), "csv")
    assert table.columns == ["text", "label"]
    assert table.encoding == "utf-8-sig"


def test_undecodable_bytes_are_named_by_their_row() -> None:
    """Past the first 64 KiB (which decide the encoding) a bad byte stops the import at its row."""
    fine = b"".join(b"ticket %d,a\n" % i for i in range(8000))  # rows 2..8001, > 64 KiB
    data = b"text,label\n" + fine + b"bad \xff\xfe here,a\n"
    with pytest.raises(ValidationFailed, match=r"row 8002: bytes that are not valid UTF-8"):
        _read(data, "csv", ColumnMap("text", "label"))


def test_a_file_that_is_neither_utf8_nor_shift_jis_is_refused_at_the_start() -> None:
    with pytest.raises(ValidationFailed, match="neither UTF-8 nor Shift_JIS"):
        open_table(io.BytesIO(b"text,label\nbad \xff\xfe here,a\n"), "csv")


def test_a_missing_column_is_named_with_the_columns_found() -> None:
    with pytest.raises(
        ValidationFailed,
        match=r"no column 'label' in the file; its columns are: 'text', 'category'",
    ) as caught:
        _read(b"text,category\nhello,a\n", "csv", ColumnMap("text", "label"))
    assert caught.value.field == "label"


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_an_empty_file_is_refused(fmt: str) -> None:
    with pytest.raises(ValidationFailed, match="the file is empty"):
        open_table(io.BytesIO(b""), fmt)


def test_an_empty_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    Workbook().save(path)
    with path.open("rb") as stream, pytest.raises(ValidationFailed, match="the file is empty"):
        open_table(stream, "xlsx")


def test_a_file_that_is_not_a_workbook_is_refused() -> None:
    with pytest.raises(ValidationFailed, match=r"not a readable \.xlsx"):
        open_table(io.BytesIO(b"text,label\n"), "xlsx")


def test_bad_json_and_bad_times_name_their_row() -> None:
    with pytest.raises(ValidationFailed, match="row 2: not JSON"):
        _read(b'{"text": "a", "label": "b"}\n{oops\n', "jsonl", ColumnMap("text", "label"))
    with pytest.raises(ValidationFailed, match="row 2: 'yesterday' is not a date") as caught:
        _read(
            b"text,label,closed\nhi,a,yesterday\n", "csv", ColumnMap("text", "label", time="closed")
        )
    assert caught.value.field == "closed"


def test_blank_texts_and_labels_come_through_to_be_counted() -> None:
    rows = _read(b"text,label\n ,a\nhello,\n", "csv", ColumnMap("text", "label"))
    assert [(r.text, r.label) for r in rows] == [("", "a"), ("hello", "")]


def test_a_negative_handling_time_is_refused() -> None:
    mapping = ColumnMap("text", "label", handling="secs")
    assert _read(b"text,label,secs\nhi,a,90\n", "csv", mapping)[0].handling_seconds == 90.0
    with pytest.raises(ValidationFailed, match="row 2: handling time '-3'"):
        _read(b"text,label,secs\nhi,a,-3\n", "csv", mapping)


def test_formats_come_from_the_suffix() -> None:
    assert [detect_format(n) for n in ("a.CSV", "b.tsv", "c.jsonl", "d.xlsx")] == [
        "csv", "tsv", "jsonl", "xlsx",
    ]  # fmt: skip
    with pytest.raises(ValidationFailed, match="not a history file"):
        detect_format("notes.docx")


def test_preview_shows_the_first_rows_as_text() -> None:
    table = open_table(
        io.BytesIO(b"text,label\n" + b"".join(b"t%d,a\n" % i for i in range(9))), "csv"
    )
    shown = preview(table, 3)
    assert shown == [
        {"text": "t0", "label": "a"},
        {"text": "t1", "label": "a"},
        {"text": "t2", "label": "a"},
    ]


def test_a_large_file_streams_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("text,label\n")
        for i in range(25_000):
            out.write(f"ticket number {i},{'ab'[i % 2]}\n")
    with path.open("rb") as stream:
        sizes = [
            len(b)
            for b in batches(
                mapped_rows(open_table(stream, "csv"), ColumnMap("text", "label")), 10_000
            )
        ]
    assert sizes == [10_000, 10_000, 5_000]
