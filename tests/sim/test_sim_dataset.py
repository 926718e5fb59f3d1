"""Loading labelled history: formats, encodings, blank rows, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deshi.sim.dataset import Dataset, DatasetError, LabelledItem, load_bundled, load_dataset


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def _load(path: Path) -> Dataset:
    return load_dataset(path, text_col="text", label_col="label")


def _jsonl(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def test_csv_rows_become_items_in_file_order(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.csv", 'text,label,extra\nhello,greet,1\n"bye, now",farewell,2\n')

    dataset = _load(path)

    assert dataset.items == (
        LabelledItem("row-1", "hello", "greet"),
        LabelledItem("row-2", "bye, now", "farewell"),
    )
    assert dataset.labels == ("farewell", "greet")
    assert dataset.source == str(path)


def test_jsonl_and_ndjson_rows_become_items(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"text": "hello", "label": "greet"},
        {"text": "bye", "label": 7},
    ]
    for name in ("h.jsonl", "h.ndjson"):
        dataset = _load(_write(tmp_path / name, _jsonl(rows) + "\n"))  # trailing blank line ignored

        assert [(i.text, i.label) for i in dataset.items] == [("hello", "greet"), ("bye", "7")]


def test_tsv_is_read_with_tabs(tmp_path: Path) -> None:
    dataset = _load(_write(tmp_path / "h.tsv", "text\tlabel\nhello, world\tgreet\n"))

    assert dataset.items[0].text == "hello, world"


def test_utf8_with_bom_and_japanese_text_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ja.csv", "text,label\n請求書の支払い期限を教えてください,請求\n", "utf-8-sig"
    )

    dataset = _load(path)

    assert dataset.items == (LabelledItem("row-1", "請求書の支払い期限を教えてください", "請求"),)


def test_blank_texts_and_labels_are_skipped_and_counted(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.csv", "text,label\nhello,greet\n  ,greet\n,x\nbye,\nyo,greet\n")

    dataset = _load(path)

    assert [item.text for item in dataset.items] == ["hello", "yo"]
    assert (dataset.skipped_blank_text, dataset.skipped_blank_label) == (2, 1)


def test_shuffle_is_reproducible_and_keeps_every_item(tmp_path: Path) -> None:
    rows = "".join(f"t{n},l{n % 3}\n" for n in range(50))
    dataset = _load(_write(tmp_path / "h.csv", "text,label\n" + rows))

    first, again = dataset.shuffled(3), dataset.shuffled(3)

    assert first.items == again.items
    assert first.items != dataset.items
    assert sorted(first.items, key=lambda i: int(i.case_id[4:])) == list(dataset.items)
    assert dataset.shuffled(None) is dataset


def test_head_limits_the_stream(tmp_path: Path) -> None:
    dataset = _load(_write(tmp_path / "h.csv", "text,label\na,x\nb,y\nc,x\n"))

    assert [i.text for i in dataset.head(2).items] == ["a", "b"]
    assert dataset.head(None) is dataset


def test_bundled_banking77_is_train_then_test() -> None:
    dataset = load_bundled("banking77")

    assert len(dataset.items) == 13_083
    assert len(dataset.labels) == 77
    assert dataset.items[0].text == "I am still waiting on my card?"
    assert dataset.items[10_003].text == "How do I locate my card?"


@pytest.mark.parametrize(
    ("file_name", "content", "message"),
    [
        ("empty.csv", "", "empty"),
        ("blank.csv", "\n  \n", "empty"),
        ("header.csv", "text,label\n", "no data rows"),
        ("h.csv", "body,label\nhello,greet\n", r"no column 'text' \(available: 'body', 'label'\)"),
        ("h.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"\n', "line 2 of"),
        ("h.jsonl", '{"text": "a", "label": "x"}\n["b", "y"]\n', "line 2 of .* JSON object"),
        ("h.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n', "line 2 of .*'label'"),
        ("h.xlsx", "whatever", "unsupported file type '.xlsx'"),
        ("h.csv", 'text,label\n"unclosed,x\nmore,y\n', "not valid CSV"),
    ],
)
def test_bad_files_raise_a_one_line_error_naming_the_problem(
    tmp_path: Path, file_name: str, content: str, message: str
) -> None:
    path = _write(tmp_path / file_name, content)

    with pytest.raises(DatasetError, match=message) as raised:
        _load(path)

    assert "\n" not in str(raised.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nope\.csv: no such file"):
        _load(tmp_path / "nope.csv")


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.csv"
    folder.mkdir()

    with pytest.raises(DatasetError, match="is not a file"):
        _load(folder)


def test_text_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncafé,drink\n".encode("latin-1"))

    with pytest.raises(DatasetError, match=r"latin\.csv is not UTF-8"):
        _load(path)


def test_a_stream_needs_items_and_two_labels(tmp_path: Path) -> None:
    one_label = _load(_write(tmp_path / "one.csv", "text,label\na,x\nb,x\n"))
    all_blank = _load(_write(tmp_path / "blank.csv", "text,label\n,x\n ,y\n"))

    with pytest.raises(DatasetError, match="only one distinct label \\('x'\\)"):
        one_label.require_backtestable()
    with pytest.raises(DatasetError, match="no rows with both a text and a label"):
        all_blank.require_backtestable()


def test_unknown_bundled_name_lists_the_known_ones() -> None:
    with pytest.raises(DatasetError, match="available: banking77"):
        load_bundled("mnist")


def test_a_file_sorted_by_label_is_recognised_as_grouped(tmp_path: Path) -> None:
    rows = "".join(f"t{n},{label}\n" for label in "abc" for n in range(20))
    dataset = _load(_write(tmp_path / "sorted.csv", "text,label\n" + rows))

    assert dataset.grouped_by_label
    assert not dataset.shuffled(0).grouped_by_label
    assert load_bundled("banking77").grouped_by_label


def test_an_imbalanced_stream_in_random_order_is_not_grouped(tmp_path: Path) -> None:
    rows = "".join(f"t{n},{'rare' if n % 10 == 0 else 'common'}\n" for n in range(100))
    dataset = _load(_write(tmp_path / "imbalanced.csv", "text,label\n" + rows))

    assert not dataset.grouped_by_label
