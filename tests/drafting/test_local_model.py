"""The local model's file: assembled from its slices in order, refused when its SHA-256 is not
the pinned one, and reused next time (trusted by its stamp, re-hashed on request or when the
file changed). Small slices written here stand in for the packages, and one test corrupts a
copy of a real slice of the `deshi[llm]` extra (skipped, with the reason, without the extra)."""

from __future__ import annotations

import hashlib
import os
import shutil
from importlib import metadata
from pathlib import Path

import pytest

from deshi.drafting.local_model import (
    QWEN_CODER_05B,
    LocalModelCorrupt,
    LocalModelMissing,
    ModelPackage,
    prepare_model,
)
from llm_extra import installed_parts

SLICES = [b"GGUF" + b"a" * 1000, b"b" * 700, b"c" * 5]
WHOLE = b"".join(SLICES)


def _package(data: bytes = WHOLE) -> ModelPackage:
    return ModelPackage(
        name="tiny",
        title="Tiny",
        licence="MIT",
        distributions=("tiny-part1", "tiny-part2", "tiny-part3"),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def _slices(directory: Path, slices: list[bytes] = SLICES) -> list[Path]:
    directory.mkdir(exist_ok=True)
    paths = []
    for number, data in enumerate(slices, start=1):
        path = directory / f"part{number:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_the_slices_are_joined_in_order_and_verified(tmp_path: Path) -> None:
    prepared = prepare_model(_package(), tmp_path / "models", parts=_slices(tmp_path / "parts"))

    assert prepared.verified_by == "assembled"
    assert prepared.path == tmp_path / "models" / "tiny.gguf"
    assert prepared.path.read_bytes() == WHOLE
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "tiny.gguf",
        "tiny.gguf.verified",
    ]


def test_slices_out_of_order_are_refused_and_nothing_is_left(tmp_path: Path) -> None:
    parts = _slices(tmp_path / "parts")
    with pytest.raises(LocalModelCorrupt, match="do not make the pinned file"):
        prepare_model(_package(), tmp_path / "models", parts=[parts[1], parts[0], parts[2]])
    assert list((tmp_path / "models").iterdir()) == []


def test_a_verified_file_is_reused_by_its_stamp_and_rehashed_on_request(tmp_path: Path) -> None:
    package, models = _package(), tmp_path / "models"
    prepare_model(package, models, parts=_slices(tmp_path / "parts"))

    again = prepare_model(package, models, parts=[])  # no parts needed: the file is kept
    assert again.verified_by == "stamp"
    assert prepare_model(package, models, parts=[], rehash=True).verified_by == "rehashed"


def test_a_changed_file_is_rehashed_and_a_damaged_one_assembled_again(tmp_path: Path) -> None:
    package, models, parts = _package(), tmp_path / "models", _slices(tmp_path / "parts")
    target = prepare_model(package, models, parts=parts).path

    later = target.stat().st_mtime_ns + 1_000_000_000
    os.utime(target, ns=(later, later))  # same bytes, another time: the stamp no longer fits
    assert prepare_model(package, models, parts=parts).verified_by == "rehashed"

    target.write_bytes(WHOLE[:-1] + b"X")  # same size, one byte changed
    repaired = prepare_model(package, models, parts=parts)
    assert repaired.verified_by == "assembled" and target.read_bytes() == WHOLE


def test_a_stamp_for_another_file_is_not_trusted(tmp_path: Path) -> None:
    package, models = _package(), tmp_path / "models"
    prepare_model(package, models, parts=_slices(tmp_path / "parts"))
    other = _package(WHOLE + b"!")
    with pytest.raises(LocalModelMissing, match="tiny-part1 is not installed"):
        prepare_model(other, models)  # not the pinned file, and no packages to rebuild it


def test_the_real_slices_are_found_through_the_installed_packages() -> None:
    parts = installed_parts()
    assert [p.name for p in parts] == [f"part{n:02d}.bin" for n in range(1, 7)]
    assert sum(p.stat().st_size for p in parts) == QWEN_CODER_05B.size
    versions = {metadata.version(name) for name in QWEN_CODER_05B.distributions}
    assert versions == {"0.9.0"}


def test_a_corrupted_real_slice_is_refused(tmp_path: Path) -> None:
    parts = installed_parts()
    damaged = tmp_path / parts[2].name
    shutil.copyfile(parts[2], damaged)
    with damaged.open("r+b") as file:  # one byte in the middle of the model's weights
        file.seek(1_000_000)
        byte = file.read(1)
        file.seek(1_000_000)
        file.write(bytes([byte[0] ^ 0xFF]))

    with pytest.raises(LocalModelCorrupt, match=QWEN_CODER_05B.sha256):
        prepare_model(QWEN_CODER_05B, tmp_path / "models", parts=[*parts[:2], damaged, *parts[3:]])
    assert not (tmp_path / "models" / f"{QWEN_CODER_05B.name}.gguf").exists()
    assert list((tmp_path / "models").iterdir()) == []
