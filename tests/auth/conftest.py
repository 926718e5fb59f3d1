from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with tiny costs for commands under test, which read their settings from the
    environment as in a shell: same code paths, a hundredth of the time."""
    monkeypatch.setenv("DESHI_PASSWORD_HASH_PROFILE", "fast-insecure")
