"""The one settings object: every knob with its default and its docs, read from DESHI_* env vars.

Nothing is created at import time: callers build `Settings()` (or pass explicit values) and hand
it to the factories that need it, e.g. `deshi.db.engine_from_settings(settings)`.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "DEFAULT_DATABASE_URL",
    "LogFormat",
    "LogLevel",
    "PasswordHashProfile",
    "SecureCookies",
    "Settings",
]

DEFAULT_DATABASE_URL = "sqlite:///./deshi.db"
MIN_SECRET_KEY_BYTES = 32  # 256 bits: a signing key no one can guess offline

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


def _is_network(text: str) -> bool:
    """Whether `text` is an IP address or network (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`)."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
PasswordHashProfile = Literal["standard", "fast-insecure"]  # argon2id costs: deshi.auth.passwords
SecureCookies = Literal["auto", "always", "never"]  # the session cookie's Secure flag


class Settings(BaseSettings):
    """Configuration of a deshi workspace; each field maps to the env var DESHI_<FIELD NAME>."""

    # Errors never echo a value: a rejected key must not reach a log.
    model_config = SettingsConfigDict(
        env_prefix="DESHI_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

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
    public_api_docs: bool = Field(
        default=False,
        description=(
            "Serve the API documentation (`/docs`, `/redoc`, `/openapi.json`) to anyone. Off: "
            "only to a signed-in user or a caller with an API token."
        ),
    )
    log_format: LogFormat = Field(
        default="text",
        description=(
            "How `deshi serve` and `deshi worker` write their logs to stderr: `text` (one line "
            "per event) or `json` (one JSON object per line with time, level, logger, message "
            "and the request id)."
        ),
    )
    log_level: LogLevel = Field(
        default="INFO",
        description="Least severe level of the `deshi` logger that is written.",
    )
    metrics_enabled: bool = Field(
        default=False,
        description=(
            "Serve `GET /metrics` in the Prometheus text format; needs `DESHI_METRICS_TOKEN`. "
            "Off: `/metrics` answers 404."
        ),
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token the scraper sends to `GET /metrics` (`Authorization: Bearer TOKEN`); "
            "at least 32 characters; required when `DESHI_METRICS_ENABLED` is on."
        ),
    )
    shutdown_grace_seconds: float = Field(
        default=20.0,
        ge=0,
        description=(
            "On SIGTERM, how long open requests (`deshi serve`) and then the running background "
            "job may take to finish; a job still running after that is released back to the "
            "queue, where another worker runs it again."
        ),
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
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest request body the server reads, in bytes; a larger one is answered 413 "
            "before it is parsed. The default, 64 MiB, holds a full batch (1,000 items of "
            "20,000 characters) in UTF-8 JSON even in Japanese (3 bytes a character: 60 MB); "
            "texts sent \\u-escaped take 6 bytes a character, so send UTF-8 or smaller batches. "
            "Raise it when you raise `DESHI_MAX_TEXT_CHARS` or `DESHI_MAX_BATCH_ITEMS`."
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
    isolate_retrains: bool = Field(
        default=True,
        description=(
            "Run each retrain job of `deshi serve`'s background worker and of `deshi worker` "
            "in a child process started for it. A retrain's memory peak grows with the "
            "process's history (tens to hundreds of MiB); in a long-running process the "
            "allocators keep it, and the server's memory steps up with every retrain. A child "
            "gives it back when it exits, for a few seconds more per retrain (the child starts "
            "and rebuilds the agent from the database)."
        ),
    )
    agent_refresh_seconds: float = Field(
        default=5.0,
        ge=0,
        allow_inf_nan=False,
        description=(
            "How often `deshi serve` brings the agents it holds up to date with what other "
            "processes stored (a retrain's new champion, reviews, decisions), in seconds; 0: "
            "only when a request uses them. Otherwise the first answer after a retrain made "
            "elsewhere waits for it."
        ),
    )
    heap_release_seconds: float = Field(
        default=60.0,
        ge=0,
        allow_inf_nan=False,
        description=(
            "How often `deshi serve` hands the memory its requests freed back to the operating "
            "system (glibc's `malloc_trim`, or a purge of jemalloc's arenas), in seconds; 0 "
            "turns it off. Without it, a server's resident memory rose with every KPI view as "
            "its data grew."
        ),
    )
    kpi_inline_seconds: float = Field(
        default=0.25,
        ge=0,
        allow_inf_nan=False,
        description=(
            "A KPI view (dashboard, weekly report, `/kpis`, warnings, drafting KPIs) whose "
            "data changed since it was last computed waits for it to be computed again when "
            "that took less than this many seconds; a slower one is answered at once from the "
            "last result, marked with when it was current, while `deshi serve` recomputes it "
            "in a child process (seconds at 100,000 items). 0: always the last result at once."
        ),
    )
    blas_threads: int = Field(
        default=1,
        ge=1,
        description=(
            "Threads each numeric-library call (OpenBLAS products, SVDs) may use in `deshi "
            "serve`, `deshi worker` and `deshi demo`. One by default: requests, retrains and "
            "jobs already run side by side, and more BLAS threads than free cores spin and wait "
            "(an SVD took 4-5 times longer with two on a busy 2-core machine). Raise it only for "
            "a worker alone on its machine."
        ),
    )
    webhook_allow_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description=(
            "Internal destinations webhooks may post to after all, comma-separated: host names "
            "(`hooks.intranet.example`, matched exactly) and addresses or networks "
            "(`10.20.0.5`, `10.20.0.0/16`, `fd00::/8`). Empty: webhooks post only to public "
            "addresses; loopback, private, link-local (cloud metadata), CGNAT, multicast and "
            "reserved ones are refused."
        ),
    )

    @field_validator("webhook_allow_hosts", mode="before")
    @classmethod
    def _allow_list_entries(cls, value: object) -> object:
        """Split the comma-separated variable; each entry is a host name or an IP network."""
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list | tuple):
            return value
        cleaned = tuple(str(entry).strip().lower() for entry in entries if str(entry).strip())
        for entry in cleaned:
            if not _is_network(entry) and not _HOST_NAME.fullmatch(entry):
                raise ValueError(f"{entry!r} is neither a host name nor an IP address/network")
        return cleaned

    password_hash_profile: PasswordHashProfile = Field(
        default="standard",
        description=(
            "Cost of the argon2id hash of new passwords. `standard` (the default and the floor "
            "for any real workspace): RFC 9106's low-memory profile, 3 passes over 64 MiB in 4 "
            "lanes. `fast-insecure`: 1 pass over 1 MiB, for test suites only; hashes keep the "
            "cost they were made with, so switching back does not strengthen them."
        ),
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs the web UI's session cookies (a long random string; keep it secret "
            "and the same on every server process), at least 32 bytes: e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`. Unset: a random key "
            "per process, so sessions end when the server restarts and do not span processes; a "
            "warning is logged."
        ),
    )

    @field_validator("secret_key")
    @classmethod
    def _long_secret_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value().encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(
                f"must be at least {MIN_SECRET_KEY_BYTES} bytes (e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return key

    session_idle_minutes: int = Field(
        default=120,
        ge=1,
        description=(
            "A web UI session that made no request for this many minutes has ended; the user "
            "signs in again (exact to about a minute)."
        ),
    )
    session_max_hours: int = Field(
        default=12,
        ge=1,
        description="A web UI session ends this many hours after sign-in, however busy it is.",
    )
    secure_cookies: SecureCookies = Field(
        default="auto",
        description=(
            "The `Secure` flag of the session cookie. `auto`: set when the request arrived over "
            "HTTPS (behind a proxy, as the proxy's `X-Forwarded-Proto` says; see "
            "`DESHI_FORWARDED_ALLOW_IPS`); `always`: set on every response (serve only over "
            "HTTPS); `never`: never set (plain-HTTP tests only)."
        ),
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description=(
            "Comma-separated addresses of the reverse proxies whose `X-Forwarded-Proto` and "
            "`X-Forwarded-For` headers `deshi serve` trusts for the request's scheme and client "
            "address (which the Secure cookie and login throttling use); `*` trusts every peer."
        ),
    )
    login_free_failures_per_account: int = Field(
        default=5,
        ge=1,
        description=(
            "Failed password sign-ins an account (known or not) may have before each further "
            "attempt waits: 1 s after the next failure, doubling per failure up to "
            "`DESHI_LOGIN_MAX_DELAY_SECONDS`; answered 429 with Retry-After. Failures are "
            "forgotten after an hour without one, or when the account signs in."
        ),
    )
    login_free_failures_per_address: int = Field(
        default=20,
        ge=1,
        description=(
            "The same allowance per client address, across all accounts (higher: offices share "
            "one address)."
        ),
    )
    login_max_delay_seconds: int = Field(
        default=900,
        ge=1,
        description="Longest wait that failed sign-ins impose on an account or address.",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key of the audit log's HMAC-SHA256 chain and of its signed anchors (at least 32 "
            "characters, e.g. `openssl rand -hex 32`). Keep it outside the database and its "
            "backups, the same on every server process and worker. Unset (and no "
            "`DESHI_AUDIT_KEY_FILE`): events are chained by plain SHA-256, which anyone who can "
            "write to the database can recompute; once an event is keyed, writing the log "
            "without the key is refused."
        ),
    )
    audit_key_file: Path | None = Field(
        default=None,
        description=(
            "A file of audit keys instead of `DESHI_AUDIT_KEY`: one key a line (`#` comments "
            "and blank lines ignored). The first line keys new events and signs anchors; the "
            "others verify events keyed before a rotation."
        ),
    )

    llm_base_url: str | None = Field(
        default=None,
        description=(
            "An OpenAI-compatible chat endpoint that drafts replies from the knowledge base, "
            "e.g. `http://127.0.0.1:8080/v1` (llama.cpp's server, vLLM, Ollama) or a cloud "
            "API. Personal data are replaced by placeholders before any text is sent. Unset: "
            "drafts are extractive (the documents' own sentences with their citations)."
        ),
        pattern=r"^https?://\S+$",
    )
    llm_model: str = Field(
        default="default", max_length=200, description="The model name sent to that endpoint."
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="Bearer key of that endpoint, if it needs one."
    )
    llm_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        le=1800,
        description="How long a draft may take before the extractive draft is used instead.",
    )
    llm_structured_output: bool = Field(
        default=False,
        description=(
            'Ask that endpoint for JSON held to a schema (`response_format: {"type": '
            '"json_object", "schema": …}`, as llama.cpp\'s servers take it), '
            "so every sentence's citations parse and name a passage it was given: for models too "
            "small to write [n] by themselves."
        ),
    )
    llm_provider: Literal["auto", "extractive", "remote", "local"] = Field(
        default="auto",
        description=(
            "Which drafter writes replies: `extractive`, `remote` (the endpoint "
            "`DESHI_LLM_BASE_URL`) or `local` (Qwen2.5-Coder-0.5B-Instruct on this machine's "
            "CPU, from the `deshi[llm]` extra; nothing leaves the machine). `auto`: `remote` "
            "when `DESHI_LLM_BASE_URL` is set, else `extractive`."
        ),
    )
    llm_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "CPU threads of the local model. Keep 1 when other work shares the cores: its "
            "threads busy-wait, so two on a busy machine are slower than one."
        ),
    )
    llm_model_dir: Path | None = Field(
        default=None,
        description=(
            "Where the local model is assembled from its packages and kept (491 MB). Unset: "
            "`$XDG_CACHE_HOME/deshi/models`, else `~/.cache/deshi/models`."
        ),
    )

    @field_validator("audit_key")
    @classmethod
    def _long_audit_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            _check_audit_key(key.get_secret_value())
        return key

    @model_validator(mode="after")
    def _remote_needs_an_endpoint(self) -> Settings:
        if self.llm_provider == "remote" and self.llm_base_url is None:
            raise ValueError("DESHI_LLM_PROVIDER=remote needs DESHI_LLM_BASE_URL")
        return self

    @model_validator(mode="after")
    def _readable_audit_keys(self) -> Settings:
        self.audit_keys()  # a missing file or a short key fails here, not at the first write
        return self

    def audit_keys(self) -> tuple[bytes, ...]:
        """The audit keys, the one that keys new events first (empty: the chain is unkeyed)."""
        if self.audit_key_file is None:
            return (self.audit_key.get_secret_value().encode(),) if self.audit_key else ()
        if self.audit_key is not None:
            raise ValueError("set DESHI_AUDIT_KEY or DESHI_AUDIT_KEY_FILE, not both")
        try:
            lines = self.audit_key_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ValueError(f"DESHI_AUDIT_KEY_FILE cannot be read: {error.strerror}") from None
        keys = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if not keys:
            raise ValueError("DESHI_AUDIT_KEY_FILE holds no key")
        for key in keys:
            _check_audit_key(key)
        return tuple(key.encode() for key in keys)

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return token

    @model_validator(mode="after")
    def _metrics_need_a_token(self) -> Settings:
        if self.metrics_enabled and self.metrics_token is None:
            raise ValueError("DESHI_METRICS_ENABLED needs DESHI_METRICS_TOKEN (never open)")
        return self


def _check_audit_key(key: str) -> None:
    if len(key) < 32:
        raise ValueError("an audit key needs at least 32 characters (`openssl rand -hex 32`)")
