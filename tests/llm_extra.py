"""What the tests of the local model share: whether the `deshi[llm]` extra is installed.

Absent on a developer machine, its tests skip with the reason; under CI (where `make test`
installs the extra) a missing part is a failure, never a silent skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deshi.drafting.local import runtime_version
from deshi.drafting.local_model import QWEN_CODER_05B, LocalModelMissing, part_files

__all__ = ["installed_parts", "require_runtime"]


def _not_installed(reason: str) -> None:
    message = f"the deshi[llm] extra is not installed: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def installed_parts() -> list[Path]:
    """The model's slices from the installed packages (skips the test without them)."""
    try:
        return part_files(QWEN_CODER_05B)
    except LocalModelMissing as exc:
        _not_installed(exc.detail)
        raise  # unreachable: skip and fail raise


def require_runtime() -> None:
    """Skips the test when llama-cpp-python is not installed."""
    if runtime_version() is None:
        _not_installed("llama-cpp-python is missing")
