"""`deshi audit verify | anchor | list | export | verify-export`: check the audit log, export
its signed head, read it filtered, export a filtered range with its proof and check an export.

All read the log in a read-only session (never a write transaction, which on SQLite would hold
the write lock while the whole chain is hashed). The audit keys come from DESHI_AUDIT_KEY or
DESHI_AUDIT_KEY_FILE, like the server's. They serve operators who hold the database, so they
read every department's events (like a workspace admin).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from deshi.audit import (
    Anchor,
    AuditKeyring,
    EventFilter,
    ExportCheck,
    ExportProof,
    VerifyResult,
    check_against_log,
    check_anchor,
    export_events,
    keyring_of,
    names_for,
    page_events,
    parse_anchor,
    read_export,
    remember_verified,
    sign_head,
    verify_chain,
    verify_export,
    verify_incrementally,
)
from deshi.audit.models import AuditEventPublic
from deshi.cli._db import cli_settings
from deshi.db import engine_from_settings, make_session_factory
from deshi.db.migrate import current_revision
from deshi.errors import DeshiError
from deshi.i18n import DEFAULT_LOCALE, parse_locale, translations

__all__ = ["register"]

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."
JSON_HELP = "Print the outcome as JSON on stdout."

audit_app = typer.Typer(
    help="Check, read and export the hash-chained audit log, and anchor its head.",
    no_args_is_help=True,
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


def _write_atomically(path: Path, text: str | Iterable[str]) -> None:
    """Write `text` (or its chunks) to `path` so that a crash leaves the old file or the new
    one, never half."""
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.writelines([text] if isinstance(text, str) else text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _filters(
    actor: str | None,
    action: str | None,
    object_type: str | None,
    object_id: str | None,
    since: str | None,
    until: str | None,
    search: str | None,
) -> EventFilter:
    """The filter options as an EventFilter; a bad value is one line and exit 2."""
    fields = {"actor": actor, "action": action, "object_type": object_type,
              "object_id": object_id, "since": since, "until": until, "q": search}  # fmt: skip
    try:
        return EventFilter.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as error:
        first = error.errors()[0]
        typer.echo(f"Error: --{first['loc'][0]}: {first['msg']}".replace("_", "-"), err=True)
        raise typer.Exit(2) from None


ACTOR = typer.Option(
    None, "--actor", help="An actor as stored (user:3, cli:ops) or part of a name or email."
)
ACTION = typer.Option(
    None, "--action", help="An action (item.review) or a prefix ending in '.' (item.)."
)
OBJECT_TYPE = typer.Option(None, "--object-type", help="items, processes, users, role_grants, …")
OBJECT_ID = typer.Option(None, "--object-id", help="The object's id.")
SINCE = typer.Option(
    None, "--since", help="Events at or after this instant (ISO 8601; UTC if no zone)."
)
UNTIL = typer.Option(None, "--until", help="Events before this instant (ISO 8601; UTC if no zone).")
LANG = typer.Option(DEFAULT_LOCALE, "--lang", help="Language of the messages: en or ja.")
SEARCH = typer.Option(None, "--search", help="Free text in the actor, action, object or changes.")


@audit_app.command("list")
def list_command(
    actor: str | None = ACTOR,
    action: str | None = ACTION,
    object_type: str | None = OBJECT_TYPE,
    object_id: str | None = OBJECT_ID,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    search: str | None = SEARCH,
    before: int | None = typer.Option(
        None, "--before", min=1, help="Only events older than this seq (next page)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="Events to show."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    lang: str = LANG,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the newest matching events (times in UTC), with people's names; `--before` pages."""
    gettext = _gettext(lang)
    filters = _filters(actor, action, object_type, object_id, since, until, search)
    with _read_session(db) as session:
        page = page_events(session, departments=None, filters=filters, before=before, limit=limit)
        names = names_for(session, page.events)
        events = [AuditEventPublic.of(event, names) for event in page.events]
    if as_json:
        document = {"events": [e.model_dump(mode="json") for e in events], "older": page.older}
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    for e in events:
        when = e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        typer.echo(f"{e.seq:>8}  {when}  {e.actor_name}  {e.action}  {_object_text(e)}")
    if page.older is not None:
        typer.echo(gettext("More: --before %(seq)s") % {"seq": page.older})


def _object_text(event: AuditEventPublic) -> str:
    """`type:id`, with the object's name when it has one."""
    ref = f"{event.object_type}:{event.object_id}"
    return ref if event.object_name == ref else f"{ref} ({event.object_name})"


@audit_app.command("export")
def export_command(
    out: str = typer.Option(..., "--out", help="File to write ('-': stdout)."),
    fmt: str = typer.Option("jsonl", "--format", help="csv or jsonl."),
    actor: str | None = ACTOR,
    action: str | None = ACTION,
    object_type: str | None = OBJECT_TYPE,
    object_id: str | None = OBJECT_ID,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    search: str | None = SEARCH,
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    lang: str = LANG,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Export the matching events (oldest first) with the proof that checks them: the range's
    links, a digest and a seal under the audit key. Check it with `deshi audit verify-export`.

    Streamed to the file (written to a temporary file, renamed when complete), so a long log
    never sits in memory."""
    gettext = _gettext(lang)
    if fmt not in ("csv", "jsonl"):
        typer.echo("Error: --format must be csv or jsonl", err=True)
        raise typer.Exit(2)
    filters = _filters(actor, action, object_type, object_id, since, until, search)
    proofs: list[ExportProof] = []
    engine = engine_from_settings(cli_settings(db))
    try:
        if current_revision(engine) is None:
            typer.echo("Not initialised: run `deshi init` first.", err=True)
            raise typer.Exit(1)
        chunks = export_events(
            make_session_factory(engine), departments=None, filters=filters,
            fmt="csv" if fmt == "csv" else "jsonl", on_proof=proofs.append,
        )  # fmt: skip
        if out == "-":
            for chunk in chunks:
                typer.echo(chunk, nl=False)
            return
        _write_atomically(Path(out), chunks)
    finally:
        engine.dispose()
    [proof] = proofs
    if as_json:
        typer.echo(json.dumps(proof.to_json(), indent=2))
        return
    values = {"count": proof.count, "first": proof.first_seq, "last": proof.last_seq, "out": out}
    typer.echo(gettext("Exported %(count)s events (%(first)s–%(last)s) to %(out)s.") % values)
    if proof.key_id:
        typer.echo(gettext("Sealed with audit key %(key)s.") % {"key": proof.key_id})
    else:
        typer.echo(gettext("Not sealed: no audit key is configured."))


@audit_app.command("verify-export")
def verify_export_command(
    file: Path = typer.Argument(..., help="An export from `deshi audit export` or the audit page."),
    db: str | None = typer.Option(
        None, "--db", help="Also compare with this database's log (completeness)."
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Fail unless every hash and the seal could be checked (needs the audit key).",
    ),
    lang: str = LANG,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Check an export against its proof: each event's hash, the links between neighbours, the
    digest and the seal; exit 0 when nothing contradicts it, 1 naming what does."""
    gettext = _gettext(lang)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        typer.echo(f"Error: cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(2) from None
    keyring = AuditKeyring(cli_settings(db).audit_keys())
    try:
        check = verify_export(text, keyring=keyring)
        if db is not None:
            events, _ = read_export(text)
            with _read_session(db) as session:
                check = check_against_log(session, check, events)
    except DeshiError as error:
        typer.echo(f"Error: {file}: {error.detail}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(_check_json(check), indent=2))
    else:
        _print_export_check(check, gettext)
    if not check.ok or (strict and not check.fully_checked):
        raise typer.Exit(1)


def _check_json(check: ExportCheck) -> dict[str, Any]:
    return {
        "ok": check.ok, "reason": check.reason, "events": check.events,
        "hashes_checked": check.hashes_checked, "hashes_unchecked": check.hashes_unchecked,
        "seal": check.seal, "against_log": check.against_log,
        "fully_checked": check.fully_checked, "proof": check.proof.to_json(),
    }  # fmt: skip


def _print_export_check(check: ExportCheck, gettext: Callable[[str], str]) -> None:
    proof = check.proof
    if not check.ok:
        typer.echo(gettext("Export BROKEN: %(reason)s") % {"reason": check.reason}, err=True)
        return
    values = {"count": check.events, "first": proof.first_seq, "last": proof.last_seq}
    typer.echo(
        gettext(
            "The export holds %(count)s events (%(first)s–%(last)s); nothing contradicts its proof."
        )
        % values
    )
    if proof.complete:
        typer.echo(gettext("Every event of the range is in it: its links were checked end to end."))
    seal = {
        "valid": gettext("the seal verifies"),
        "absent": gettext("not sealed"),
        "unchecked": gettext("the seal was not checked"),
        "invalid": gettext("the seal does not verify"),
    }[check.seal]
    typer.echo(
        gettext("Hashes recomputed: %(count)s; %(seal)s.")
        % {"count": check.hashes_checked, "seal": seal}
    )
    if check.hashes_unchecked or check.seal == "unchecked":
        typer.echo(
            gettext(
                "Not checked: %(count)s keyed hashes and the seal need the audit key "
                "(DESHI_AUDIT_KEY or DESHI_AUDIT_KEY_FILE)."
            )
            % {"count": check.hashes_unchecked}
        )
    if check.against_log:
        typer.echo(
            gettext("The log still holds these events, and the filters select exactly them.")
        )


def _gettext(lang: str) -> Callable[[str], str]:
    """The message catalogue of `lang`; an unsupported language is one line and exit 2."""
    try:
        return translations(parse_locale(lang)).gettext
    except DeshiError as error:
        typer.echo(f"Error: {error.detail}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    """Attach the `audit` group to the main app."""
    app.add_typer(audit_app, name="audit")
