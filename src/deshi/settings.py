"""The one settings object: every knob with its default and its docs, read from DESHI_* env vars.

Nothing is created at import time: callers build `Settings()` (or pass explicit values) and hand
it to the factories that need it, e.g. `deshi.db.engine_from_settings(settings)`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_DATABASE_URL", "Settings"]

DEFAULT_DATABASE_URL = "sqlite:///./deshi.db"


class Settings(BaseSettings):
    """Configuration of a deshi workspace; each field maps to the env var DESHI_<FIELD NAME>."""

    model_config = SettingsConfigDict(env_prefix="DESHI_", extra="ignore", frozen=True)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description=(
            "SQLAlchemy URL of the database. Default: a SQLite file `deshi.db` in the working "
            "directory (WAL, foreign keys on, synchronous=FULL). For PostgreSQL use psycopg 3: "
            "`postgresql+psycopg://user:password@host:5432/dbname`."
        ),
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description=(
            "SQLite only: how long a connection waits for another writer's lock before failing "
            "with 'database is locked', in milliseconds."
        ),
    )
    sql_echo: bool = Field(
        default=False,
        description="Log every SQL statement (SQLAlchemy echo); for debugging only.",
    )
    max_text_chars: int = Field(
        default=20_000,
        ge=1,
        description="Longest item text the API accepts, in characters; longer items get 422.",
    )
    max_batch_items: int = Field(
        default=1000,
        ge=1,
        le=2000,  # other processes watch the newest 25,000 ids for late commits (learning.cursor)
        description=(
            "Most items one `POST /processes/{id}/items:batch` request may carry (at most 2,000)."
        ),
    )
    lease_seconds: int = Field(
        default=300,
        ge=1,
        description=(
            "How long a claimed review item stays leased to its reviewer; after that anyone "
            "may claim it again."
        ),
    )
    training_threads: int | None = Field(
        default=None,
        ge=1,
        description=(
            "How many models a retrain fits at once, one thread each (on 1,000 or more labelled "
            "items and at most 3 million stored values; otherwise one at a time). Unset: one per "
            "CPU."
        ),
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs the web UI's session cookies (a long random string; keep it secret "
            "and the same on every server process). Unset: a random key per process, so sessions "
            "end when the server restarts and do not span processes; a warning is logged."
        ),
    )
