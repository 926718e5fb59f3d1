"""`deshi user create | list | update | deactivate | reactivate | reset-password`: people and
service accounts."""

from __future__ import annotations

from collections.abc import Callable

import typer

from deshi.auth import admin
from deshi.auth.models import UserPublic
from deshi.auth.passwords import PasswordHasher
from deshi.cli._db import cli_session, cli_settings
from deshi.cli._operator import DB_HELP, JSON_HELP, dumped, emit, operator_actor, print_table, when
from deshi.db.tables import RoleGrant, User

__all__ = ["register", "user_app"]

user_app = typer.Typer(
    help="Users: create (a one-time password, or a service account), list, deactivate, "
    "reactivate, reset a password.",
    no_args_is_help=True,
)
LOCALE_HELP = "Saved language: en or ja (default: each request's Accept-Language)."


@user_app.command("create")
def create(
    email: str = typer.Argument(..., help="The user's email (their sign-in name)."),
    name: str = typer.Option("", "--name", help="Display name (default: the email)."),
    locale: str = typer.Option("", "--locale", help=LOCALE_HELP),
    service: bool = typer.Option(
        False, "--service", help="A service account: no password, API tokens only."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Create a user; a person's one-time password is printed once (audited)."""
    hasher = PasswordHasher(cli_settings(db).password_hash_profile)
    with cli_session(db) as session:
        account = admin.create_account(
            session,
            actor=operator_actor(),
            email=email,
            display_name=name,
            locale=locale,
            service=service,
            password_hasher=hasher,
        )
        user = UserPublic.of(account.user)
    if as_json:
        emit({"id": user.id, "email": user.email, "password": account.password})
        return
    typer.echo(f"User {user.id} created: {user.email}")
    if account.password is not None:
        typer.echo(f"Password (shown once, give it to them now): {account.password}")
    else:
        typer.echo(f"Service account: issue it a token with `deshi token issue {user.email}`.")


@user_app.command("list")
def list_users(
    active_only: bool = typer.Option(False, "--active", help="Only users who can sign in."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List every user with their roles and whether they must still change a one-time password."""
    with cli_session(db) as session:
        users = [
            UserPublic.of(u) for u in admin.list_users(session, include_inactive=not active_only)
        ]
        roles = {u.id: _roles(admin.list_grants(session, user_id=u.id)) for u in users}
    if as_json:
        emit({"users": [dumped(u) | {"roles": roles[u.id]} for u in users]})
        return
    rows = [
        [
            str(u.id),
            u.email,
            u.display_name,
            "service" if u.is_service else "person",
            "active" if u.is_active else "deactivated",
            _password_state(u),
            ", ".join(f"{r['role']}@{r['department_id'] or '*'}" for r in roles[u.id]) or "-",
            when(u.created_at),
        ]
        for u in users
    ]
    headers = ["id", "email", "name", "kind", "state", "password", "roles", "created"]
    print_table(headers, rows, "No users.")


def _password_state(user: UserPublic) -> str:
    """'must change' while a person still holds the one-time password an admin saw."""
    if user.is_service:
        return "-"
    return "must change" if user.must_change_password else "own"


@user_app.command("update")
def update(
    email: str = typer.Argument(..., help="The user's email."),
    name: str | None = typer.Option(None, "--name", help="New display name."),
    locale: str | None = typer.Option(None, "--locale", help=LOCALE_HELP + ' "" clears it.'),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Change a user's display name or language (audited)."""
    with cli_session(db) as session:
        user_id = admin.find_user(session, email).id
        user = UserPublic.of(
            admin.update_user(
                session, actor=operator_actor(), user_id=user_id, display_name=name, locale=locale
            )
        )
    if as_json:
        emit(dumped(user))
    else:
        typer.echo(f"User {user.id} updated: {user.display_name} ({user.locale or 'browser'})")


@user_app.command("deactivate")
def deactivate(
    email: str = typer.Argument(..., help="The user's email."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Deactivate a user: their password, tokens and sessions stop working at once (audited)."""
    _change_access(email, admin.deactivate_user, "deactivated", as_json=as_json, db=db)


@user_app.command("reactivate")
def reactivate(
    email: str = typer.Argument(..., help="The user's email."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Let a deactivated user in again, with the grants they had (audited)."""
    _change_access(email, admin.reactivate_user, "reactivated", as_json=as_json, db=db)


def _change_access(
    email: str, change: Callable[..., User], done: str, *, as_json: bool, db: str | None
) -> None:
    """Apply `change` (deactivate or reactivate) to the user with this email, as the operator."""
    with cli_session(db) as session:
        user_id = admin.find_user(session, email).id
        user = UserPublic.of(change(session, actor=operator_actor(), user_id=user_id))
    if as_json:
        emit(dumped(user))
    else:
        typer.echo(f"User {user.id} ({user.email}) {done}.")


@user_app.command("reset-password")
def reset_password(
    email: str = typer.Argument(..., help="The user's email."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Give a person a new one-time password, printed once; the old one stops working."""
    hasher = PasswordHasher(cli_settings(db).password_hash_profile)
    with cli_session(db) as session:
        user_id = admin.find_user(session, email).id
        password = admin.reset_password(
            session, actor=operator_actor(), user_id=user_id, password_hasher=hasher
        )
    if as_json:
        emit({"id": user_id, "password": password})
    else:
        typer.echo(f"New password (shown once, give it to them now): {password}")


def _roles(grants: list[RoleGrant]) -> list[dict[str, object]]:
    return [{"id": g.id, "role": g.role.value, "department_id": g.department_id} for g in grants]


def register(app: typer.Typer) -> None:
    """Attach the `user` group to the main app."""
    app.add_typer(user_app, name="user")
