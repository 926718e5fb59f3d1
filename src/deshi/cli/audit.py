"""`deshi audit verify` and `deshi audit anchor`: check the audit log, export its signed head.

Both read the log in a read-only session (never a write transaction, which on SQLite would hold
the write lock while the whole chain is hashed). The audit keys come from DESHI_AUDIT_KEY or
DESHI_AUDIT_KEY_FILE, like the server's.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from deshi.audit import (
    Anchor,
    VerifyResult,
    check_anchor,
    keyring_of,
    parse_anchor,
    remember_verified,
    sign_head,
    verify_chain,
    verify_incrementally,
)
from deshi.cli._db import cli_settings
from deshi.db import engine_from_settings, make_session_factory
from deshi.db.migrate import current_revision
from deshi.errors import DeshiError

__all__ = ["register"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."
JSON_HELP = "Print the outcome as JSON on stdout."

audit_app = typer.Typer(
    help="Check the hash-chained audit log and anchor its head.", no_args_is_help=True
)


@contextmanager
def _read_session(db: str | None) -> Iterator[Session]:
    """A read-only session on an initialised database; errors as one line and exit 1."""
    engine = engine_from_settings(cli_settings(db))
    try:
        if current_revision(engine) is None:
            typer.echo("Not initialised: run `deshi init` first.", err=True)
            raise typer.Exit(1)
        with make_session_factory(engine)() as session:
            yield session
    except DeshiError as error:
        typer.echo(f"Error: {error.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@audit_app.command("verify")
def verify(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    anchor_file: Path | None = typer.Option(
        None,
        "--anchor",
        help="An anchor from `deshi audit anchor`: also fail when the log is shorter than, or "
        "differs from, what was anchored.",
    ),
    incremental: bool = typer.Option(
        False,
        "--incremental",
        help="Hash only the events after the remembered verified prefix (what the audit page "
        "does); by default every event is hashed, the auditor's ground truth.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Recompute the audit chain; exit 0 when intact, 1 naming the first bad event.

    A passing check is remembered as the verified prefix (in its own short transaction after
    the read-only verification), so the audit page hashes only later events."""
    anchor = _read_anchor(anchor_file) if anchor_file is not None else None
    with _read_session(db) as session:
        keyed = keyring_of(session).current is not None
        if anchor is not None:
            result = check_anchor(session, anchor)
        elif incremental:
            result = verify_incrementally(session)
        else:
            result = verify_chain(session)
    if result.ok and result.checked:
        _remember(db, result)
    if as_json:
        typer.echo(json.dumps(_result_json(result, anchor), indent=2))
    else:
        _print_result(result, anchor, key_configured=keyed)
    if not result.ok:
        raise typer.Exit(1)


def _remember(db: str | None, result: VerifyResult) -> None:
    """Store the verified prefix in a short write transaction of its own."""
    engine = engine_from_settings(cli_settings(db))
    try:
        with make_session_factory(engine).begin() as session:
            remember_verified(session, result)
    except SQLAlchemyError as error:  # e.g. a read-only database user: the check still stands
        typer.echo(
            f"Note: the verified prefix was not remembered: {error.__class__.__name__}", err=True
        )
    finally:
        engine.dispose()


def _read_anchor(path: Path) -> Anchor:
    try:
        return parse_anchor(path.read_text(encoding="utf-8"))
    except OSError as error:
        typer.echo(f"Error: cannot read the anchor {path}: {error.strerror}", err=True)
    except DeshiError as error:
        typer.echo(f"Error: {path}: {error.detail}", err=True)
    raise typer.Exit(2)


def _print_result(result: VerifyResult, anchor: Anchor | None, *, key_configured: bool) -> None:
    if not result.ok:
        where = f" at event {result.first_bad_seq}" if result.first_bad_seq else ""
        typer.echo(f"Audit chain BROKEN{where}: {result.reason}", err=True)
        return
    typer.echo(f"Audit chain intact: {result.head_seq} events, head {result.head_hash}")
    if result.resumed_after:
        typer.echo(
            f"Incremental: events up to {result.resumed_after} were verified before; "
            f"{result.checked} hashed now. Run without --incremental to hash every event."
        )
    if result.keyed_from is not None:
        typer.echo(f"Keyed (HMAC-SHA256) from event {result.keyed_from} on.")
    elif key_configured:
        typer.echo("Not keyed yet: the next event written will be keyed with the audit key.")
    elif result.checked:
        typer.echo("Not keyed: set DESHI_AUDIT_KEY so that a rewrite needs the key.")
    if result.unscoped:
        typer.echo(
            f"{result.unscoped} older events were hashed without their department: "
            "the chain proves their contents, not which department's auditors see them."
        )
    if anchor is not None:
        typer.echo(
            f"Holds event {anchor.seq} as anchored at {anchor.anchored_at.isoformat()} "
            f"({result.head_seq - anchor.seq} events since)."
        )


def _result_json(result: VerifyResult, anchor: Anchor | None) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "checked": result.checked,
        "resumed_after": result.resumed_after,
        "head_seq": result.head_seq,
        "head_hash": result.head_hash,
        "keyed_from": result.keyed_from,
        "unscoped": result.unscoped,
        "first_bad_seq": result.first_bad_seq,
        "reason": result.reason,
        "anchor": anchor.to_json() if anchor is not None else None,
    }


@audit_app.command("anchor")
def anchor(
    out: str = typer.Option(
        ..., "--out", help="File to write the signed head to ('-': stdout); kept elsewhere."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Verify the chain and export its head (seq, hash, time), signed with the audit key."""
    with _read_session(db) as session:
        signed = sign_head(session)
    document = json.dumps(signed.to_json(), indent=2) + "\n"
    if out == "-":
        typer.echo(document, nl=False)
        return
    _write_atomically(Path(out), document)
    if as_json:
        typer.echo(document, nl=False)
    else:
        typer.echo(f"Anchored event {signed.seq} (hash {signed.hash}) to {out}")


def _write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that a crash leaves the old file or the new one, never half."""
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def register(app: typer.Typer) -> None:
    """Attach the `audit` group to the main app."""
    app.add_typer(audit_app, name="audit")
