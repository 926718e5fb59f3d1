"""Back a workspace's database up to one file, and restore such a file into an empty database.

SQLite: SQLite's online backup API copies the whole database in one step, inside one read
transaction, so the copy is the database as of one commit even while the server writes (in WAL
mode readers and the writer do not wait for each other). The copy is written next to the target
file, checked (`PRAGMA quick_check`), synced and renamed into place, so a crash leaves no
half-written backup under the target's name.

PostgreSQL: `pg_dump --format=custom` (one consistent snapshot) and `pg_restore`, the procedure
PostgreSQL documents; both must be on the PATH, in a version at least the server's. The
password travels in PGPASSWORD, never on a command line. A workspace kept in a schema of its
own (the URL's `options=-csearch_path=NAME`) is dumped alone and restored into that schema of
the target database.

A restore goes into an empty database only (no table in its schema): restoring over a live
workspace loses whatever it held, so that takes `force=True`, and nothing may use the target
meanwhile. Backups are not portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from deshi.db.engine import is_sqlite
from deshi.errors import Conflict, ServiceUnavailable, ValidationFailed

__all__ = ["BackupFile", "backup_database", "backup_kind", "restore_database"]

Backend = Literal["sqlite", "postgresql"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PG_DUMP_MAGIC = b"PGDMP"
_BUSY_TIMEOUT_MS = 30_000  # wait this long for a writer's checkpoint rather than fail


@dataclass(frozen=True, slots=True)
class BackupFile:
    """A backup written or restored: where, of which database kind, how many bytes."""

    path: Path
    backend: Backend
    size: int


def backup_database(url: str, out: Path) -> BackupFile:
    """Write a consistent copy of the database at `url` to `out` (replaced if it exists)."""
    out = out.resolve()
    if out.exists() and not out.is_file():
        # The copy is renamed into place: run as root, that would replace a device or a folder.
        raise ValidationFailed(f"{out} exists and is not a regular file", field="out")
    if is_sqlite(url):
        _sqlite_backup(_sqlite_path(url, must_exist=True), out)
        backend: Backend = "sqlite"
    else:
        _pg_dump(make_url(url), out)
        backend = "postgresql"
    return BackupFile(out, backend, out.stat().st_size)


def backup_kind(path: Path) -> Backend:
    """Which database a backup file is of; ValidationFailed when it is neither."""
    try:
        with path.open("rb") as file:
            head = file.read(len(_SQLITE_MAGIC))
    except OSError as error:
        raise ValidationFailed(f"cannot read {path}: {error.strerror}", field="file") from None
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(_PG_DUMP_MAGIC):
        return "postgresql"
    raise ValidationFailed(f"{path} is not a deshi backup (SQLite or pg_dump -Fc)", field="file")


def restore_database(backup: Path, url: str, *, force: bool = False) -> BackupFile:
    """Restore `backup` into the database at `url`, which must be empty unless `force`.

    Conflict for a non-empty target without `force`; ValidationFailed for a file that is no
    backup, or a backup of the other kind of database than `url`.
    """
    kind = backup_kind(backup)
    target: Backend = "sqlite" if is_sqlite(url) else "postgresql"
    if kind != target:
        raise ValidationFailed(
            f"{backup} is a {kind} backup; it restores into {kind} only, not {target}",
            field="db",
        )
    if kind == "sqlite":
        _sqlite_restore(backup, _sqlite_path(url, must_exist=False), force=force)
    else:
        _pg_restore(backup, make_url(url), force=force)
    return BackupFile(backup, kind, backup.stat().st_size)


# SQLite


def _sqlite_path(url: str, *, must_exist: bool) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValidationFailed("an in-memory SQLite database has nothing to back up", field="db")
    path = Path(database)
    if must_exist and not path.is_file():
        raise ValidationFailed(f"no SQLite database at {path}", field="db")
    return path


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    return connection


def _sqlite_backup(source_path: Path, out: Path) -> None:
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    source, copy = _sqlite_connect(source_path), _sqlite_connect(partial)
    try:
        source.backup(copy)  # pages=-1: one step, so one snapshot, never restarted by writers
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        _check_sqlite(copy, partial)
    finally:
        source.close()
        copy.close()
    _sync_and_rename(partial, out)


def _check_sqlite(connection: sqlite3.Connection, path: Path) -> None:
    verdict = connection.execute("PRAGMA quick_check").fetchone()
    if verdict is None or verdict[0] != "ok":
        raise ServiceUnavailable(f"the copy at {path} fails SQLite's quick_check: {verdict}")


def _sync_and_rename(partial: Path, out: Path) -> None:
    with partial.open("rb") as file:
        os.fsync(file.fileno())
    os.replace(partial, out)
    directory = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power loss
    finally:
        os.close(directory)


def _sqlite_restore(backup: Path, target: Path, *, force: bool) -> None:
    source = _sqlite_connect(backup)
    try:
        _check_sqlite(source, backup)
        if not _sqlite_tables(source):
            raise ValidationFailed(f"{backup} holds no tables", field="file")
        target.parent.mkdir(parents=True, exist_ok=True)
        destination = _sqlite_connect(target)
        try:
            if _sqlite_tables(destination) and not force:
                raise _not_empty(str(target))
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return [str(row[0]) for row in rows]


def _not_empty(target: str) -> Conflict:
    return Conflict(
        f"{target} is not empty: restore into a new database, or pass --force to replace "
        "everything in it (stop every server and worker using it first)"
    )


# PostgreSQL


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServiceUnavailable(
            f"{name} is not installed: install the PostgreSQL client tools "
            "(e.g. Debian's postgresql-client), at least the server's version"
        )
    return path


def _schema(url: URL) -> str | None:
    """The schema named by the URL's `options=-csearch_path=NAME`, if any."""
    options = url.query.get("options")
    text_options = options if isinstance(options, str) else " ".join(options or ())
    for option in text_options.replace("-c ", "-c").split():
        if option.startswith("-csearch_path="):
            return option.removeprefix("-csearch_path=").split(",")[0].strip('"') or None
    return None


def _pg_connection(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment that carries it."""
    uri = url.set(drivername="postgresql", password=None, query={})
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return uri.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        tool = Path(command[0]).name
        raise ServiceUnavailable(f"{tool} failed: {finished.stderr.strip()[-2000:]}")


def _pg_dump(url: URL, out: Path) -> None:
    uri, env = _pg_connection(url)
    partial = out.with_name(f".{out.name}.partial")
    command = [_pg_tool("pg_dump"), "--format=custom", f"--file={partial}", f"--dbname={uri}"]
    schema = _schema(url)
    if schema is not None:
        command.append(f"--schema={schema}")
    try:
        _run(command, env)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _sync_and_rename(partial, out)


def _pg_restore(backup: Path, url: URL, *, force: bool) -> None:
    schema = _schema(url) or "public"
    tables, schema_exists = _pg_schema_state(url, schema)
    if tables and not force:
        raise _not_empty(f"schema {schema} of database {url.database}")
    uri, env = _pg_connection(url)
    command = [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction"]
    if schema_exists and (force or schema != "public"):
        command += ["--clean", "--if-exists"]  # the dump creates its schema (and, forced, all)
    _run([*command, f"--dbname={uri}", str(backup)], env)


def _connect(engine: Engine) -> Connection:
    try:
        return engine.connect()
    except OperationalError as error:
        raise ServiceUnavailable(f"cannot connect to the target database: {error.orig}") from None


def _pg_schema_state(url: URL, schema: str) -> tuple[int, bool]:
    """How many tables the schema holds, and whether it exists."""
    engine = create_engine(url.set(query={}), poolclass=NullPool)
    try:
        connection = _connect(engine)
        with connection:
            exists = connection.scalar(
                text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}
            )
            tables = connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            )
    finally:
        engine.dispose()
    return int(tables or 0), bool(exists)
