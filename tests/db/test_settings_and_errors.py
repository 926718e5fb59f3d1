from __future__ import annotations

import pytest

from deshi.errors import (
    AuthenticationFailed,
    Conflict,
    DeshiError,
    IntegrityError,
    LoginRequired,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ValidationFailed,
)
from deshi.settings import DEFAULT_DATABASE_URL, Settings


def test_settings_default_to_a_sqlite_file_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DESHI_DATABASE_URL", raising=False)
    assert Settings().database_url == DEFAULT_DATABASE_URL == "sqlite:///./deshi.db"


def test_settings_read_the_deshi_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESHI_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("DESHI_SQLITE_BUSY_TIMEOUT_MS", "250")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.sqlite_busy_timeout_ms == 250


def test_secret_key_is_read_from_the_env_and_kept_out_of_reprs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DESHI_SECRET_KEY", "do-not-print-me-a-key-of-32-bytes-or-more")
    settings = Settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "do-not-print-me-a-key-of-32-bytes-or-more"
    assert "do-not-print-me-a-key-of-32-bytes-or-more" not in repr(settings)
    monkeypatch.delenv("DESHI_SECRET_KEY")
    assert Settings().secret_key is None


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (DeshiError(), 500, "internal_error"),
        (NotFound(), 404, "not_found"),
        (AuthenticationFailed(), 401, "unauthenticated"),
        (PermissionDenied(), 403, "forbidden"),
        (Conflict(), 409, "conflict"),
        (ValidationFailed(), 422, "validation_failed"),
        (IntegrityError(), 500, "integrity_error"),
        (LoginRequired(), 401, "unauthenticated"),
        (ServiceUnavailable(), 503, "unavailable"),
    ],
)
def test_errors_carry_their_http_status_and_code(error: DeshiError, status: int, code: str) -> None:
    assert isinstance(error, DeshiError)
    assert (error.status_code, error.code) == (status, code)
    problem = error.to_problem()
    assert problem["status"] == status and problem["code"] == code and problem["detail"]


def test_validation_failed_names_the_field() -> None:
    error = ValidationFailed("too short", field="password")
    assert error.field == "password"
    assert error.to_problem()["field"] == "password"
    assert str(error) == "too short"
