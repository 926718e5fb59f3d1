"""`deshi token issue | list | revoke`: API tokens for people and service accounts."""

from __future__ import annotations

import typer

from deshi.auth import admin
from deshi.auth.models import TokenPublic
from deshi.auth.service import issue_api_token, revoke_api_token
from deshi.cli._db import cli_session
from deshi.cli._operator import DB_HELP, JSON_HELP, dumped, emit, operator_actor, print_table, when
from deshi.inputs import MAX_ID

__all__ = ["register", "token_app"]

token_app = typer.Typer(help="API tokens: issue (shown once), list, revoke.", no_args_is_help=True)


@token_app.command("issue")
def issue(
    email: str = typer.Argument(..., help="The owner's email (a person or a service account)."),
    name: str = typer.Option(..., "--name", help="What the token is for, e.g. the system."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Issue an API token; it is printed once and stored only hashed (audited)."""
    with cli_session(db) as session:
        user = admin.find_user(session, email)
        issued = issue_api_token(session, actor=operator_actor(), user_id=user.id, name=name)
        token_id, plaintext = issued.token.id, issued.plaintext
    if as_json:
        emit({"id": token_id, "token": plaintext})
        return
    typer.echo(f"Token {token_id} issued to {user.email}.")
    typer.echo(f"Token (shown once, store it now): {plaintext}")


@token_app.command("list")
def list_tokens(
    email: str | None = typer.Option(None, "--user", help="Only this user's tokens."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List tokens (never their secrets): name, owner, created, last used, revoked."""
    with cli_session(db) as session:
        user_id = admin.find_user(session, email).id if email else None
        stored = admin.list_tokens(session, user_id=user_id)
        owners = admin.token_owners(session, stored)
        tokens = [
            TokenPublic.model_validate(t).model_copy(update={"owner_email": owners.get(t.user_id)})
            for t in stored
        ]
    if as_json:
        emit({"tokens": [dumped(t) for t in tokens]})
        return
    rows = [
        [
            str(t.id),
            t.name,
            t.owner_email or str(t.user_id),
            t.prefix + "…",
            when(t.created_at),
            when(t.last_used_at),
            when(t.revoked_at),
        ]
        for t in tokens
    ]
    columns = ["id", "name", "owner", "token", "created", "last used", "revoked"]
    print_table(columns, rows, "No API tokens.")


@token_app.command("revoke")
def revoke(
    token_id: int = typer.Argument(
        ..., min=1, max=MAX_ID, help="Token id (see `deshi token list`)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Revoke a token: it stops working at once and stays listed (audited)."""
    with cli_session(db) as session:
        revoke_api_token(session, actor=operator_actor(), token_id=token_id)
    if as_json:
        emit({"id": token_id, "revoked": True})
    else:
        typer.echo(f"Token {token_id} revoked.")


def register(app: typer.Typer) -> None:
    """Attach the `token` group to the main app."""
    app.add_typer(token_app, name="token")
