"""Long-running commands say which C allocator they run on (docs/service.md, "Memory")."""

from __future__ import annotations

import logging

import pytest

from deshi.cli import _allocator


@pytest.mark.parametrize(
    ("allocator", "said"),
    [
        (
            "glibc",
            "C allocator: glibc malloc; a long-running process keeps less memory on jemalloc",
        ),
        ("jemalloc", "C allocator: jemalloc"),
        ("unknown", "C allocator: unknown"),
    ],
)
def test_the_allocator_is_logged_with_advice_on_glibc(
    allocator: str,
    said: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_allocator, "allocator", lambda: allocator)

    with caplog.at_level(logging.INFO, logger="deshi.test"):
        _allocator.log_allocator(logging.getLogger("deshi.test"))

    assert [record.getMessage().split(" (")[0] for record in caplog.records] == [said]
