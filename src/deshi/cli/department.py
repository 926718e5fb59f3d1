"""`deshi department create | list | rename | archive`: the workspace's departments."""

from __future__ import annotations

import typer

from deshi.cli._db import cli_session
from deshi.cli._operator import DB_HELP, JSON_HELP, dumped, emit, operator_actor, print_table, when
from deshi.inputs import MAX_ID
from deshi.processes import service
from deshi.processes.models import DepartmentPublic

__all__ = ["department_app", "register"]

department_app = typer.Typer(
    help="Departments (data boundaries): create, list, rename, archive.", no_args_is_help=True
)


@department_app.command("create")
def create(
    name: str = typer.Argument(..., help="The department's name (unique)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Create a department (audited)."""
    with cli_session(db) as session:
        department = DepartmentPublic.model_validate(
            service.create_department(session, actor=operator_actor(), name=name)
        )
    if as_json:
        emit({"id": department.id, "name": department.name})
    else:
        typer.echo(f"Department {department.id} created: {department.name}")


@department_app.command("list")
def list_departments(
    include_archived: bool = typer.Option(False, "--all", help="Include archived departments."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List the departments, oldest first."""
    with cli_session(db) as session:
        rows = [
            DepartmentPublic.model_validate(d)
            for d in service.list_departments(session, include_archived=include_archived)
        ]
    if as_json:
        emit({"departments": [dumped(d) for d in rows]})
        return
    table = [[str(d.id), d.name, when(d.created_at), when(d.archived_at)] for d in rows]
    print_table(["id", "name", "created", "archived"], table, "No departments yet.")


@department_app.command("rename")
def rename(
    department_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Department id."),
    name: str = typer.Argument(..., help="The new name."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Rename a department (audited)."""
    with cli_session(db) as session:
        department = DepartmentPublic.model_validate(
            service.rename_department(
                session, actor=operator_actor(), department_id=department_id, name=name
            )
        )
    if as_json:
        emit({"id": department.id, "name": department.name})
    else:
        typer.echo(f"Department {department.id} is now {department.name}")


@department_app.command("archive")
def archive(
    department_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Department id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Archive a department whose processes are all archived (audited)."""
    with cli_session(db) as session:
        department = DepartmentPublic.model_validate(
            service.archive_department(session, actor=operator_actor(), department_id=department_id)
        )
    if as_json:
        emit(dumped(department))
    else:
        typer.echo(f"Department {department.id} archived.")


def register(app: typer.Typer) -> None:
    """Attach the `department` group to the main app."""
    app.add_typer(department_app, name="department")
