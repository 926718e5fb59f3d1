"""`deshi role grant | list | revoke`: roles per department."""

from __future__ import annotations

import typer

from deshi.auth import admin
from deshi.auth.models import RoleGrantPublic
from deshi.cli._db import cli_session
from deshi.cli._operator import DB_HELP, JSON_HELP, dumped, emit, operator_actor, print_table, when
from deshi.domain import Role
from deshi.inputs import MAX_ID

__all__ = ["register", "role_app"]

role_app = typer.Typer(
    help="Role grants per department: grant, list, revoke.", no_args_is_help=True
)
DEPARTMENT_HELP = "Department id; omitted: a workspace-wide grant (admin only)."


@role_app.command("grant")
def grant(
    email: str = typer.Argument(..., help="The user's email."),
    department_id: int | None = typer.Option(
        None, "--department", min=1, max=MAX_ID, help=DEPARTMENT_HELP
    ),
    role: Role = typer.Option(..., "--role", help="admin, owner, reviewer or auditor."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Give a user a role in a department (audited)."""
    with cli_session(db) as session:
        user = admin.find_user(session, email)
        created = RoleGrantPublic.model_validate(
            admin.grant_live_role(
                session,
                actor=operator_actor(),
                user_id=user.id,
                role=role,
                department_id=department_id,
            )
        )
    if as_json:
        emit(dumped(created))
    else:
        where = f"department {department_id}" if department_id else "the whole workspace"
        typer.echo(f"Grant {created.id}: {email} is {role.value} in {where}.")


@role_app.command("list")
def list_roles(
    department_id: int | None = typer.Option(
        None, "--department", min=1, max=MAX_ID, help="Only this department."
    ),
    email: str | None = typer.Option(None, "--user", help="Only this user's grants."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List role grants, oldest first."""
    with cli_session(db) as session:
        user_id = admin.find_user(session, email).id if email else None
        grants = [
            RoleGrantPublic.model_validate(g)
            for g in admin.list_grants(session, department_id=department_id, user_id=user_id)
        ]
        emails = {u.id: u.email for u in admin.list_users(session)}
    if as_json:
        emit({"roles": [dumped(g) | {"email": emails.get(g.user_id)} for g in grants]})
        return
    rows = [
        [
            str(g.id),
            emails.get(g.user_id, str(g.user_id)),
            g.role.value,
            "*" if g.department_id is None else str(g.department_id),
            when(g.created_at),
        ]
        for g in grants
    ]
    print_table(["id", "user", "role", "department", "granted"], rows, "No role grants.")


@role_app.command("revoke")
def revoke(
    grant_id: int = typer.Argument(
        ..., min=1, max=MAX_ID, help="Grant id (see `deshi role list`)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Revoke a role grant (audited); the last workspace admin keeps theirs."""
    with cli_session(db) as session:
        admin.revoke_grant(session, actor=operator_actor(), grant_id=grant_id)
    if as_json:
        emit({"id": grant_id, "revoked": True})
    else:
        typer.echo(f"Grant {grant_id} revoked.")


def register(app: typer.Typer) -> None:
    """Attach the `role` group to the main app."""
    app.add_typer(role_app, name="role")
