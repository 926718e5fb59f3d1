"""What the administration commands share: the operator's audit actor and one-object output.

These commands act as the workspace operator, who holds the database (like `deshi init`): they
check no role, and the audit log names them `cli:<os user>`.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from typing import Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from deshi.domain import Role
from deshi.errors import ValidationFailed
from deshi.inputs import validated
from deshi.permissions import Grant, Principal

_Model = TypeVar("_Model", bound=BaseModel)

DB_HELP = "Database URL; default: DESHI_DATABASE_URL or sqlite:///./deshi.db."
JSON_HELP = "Print one JSON object (for scripts)."


def operator_actor() -> str:
    """How the operator is named in the audit log."""
    return f"cli:{getpass.getuser()}"


def operator_principal() -> Principal:
    """The operator as a principal, for services that take one: a workspace-wide admin (it
    holds the database), so the API's rules apply as they would to an admin; user id 0 is no
    stored user."""
    return Principal.of(0, [Grant(Role.ADMIN, None)])


def options_as(model: type[_Model], fields: Mapping[str, Any]) -> _Model:
    """The command's options as `model`, validated like the API's body; a bad value is one
    line on stderr ("Error: field: why") and exit 1."""
    try:
        return validated(model, fields)
    except ValidationFailed as exc:
        typer.echo(f"Error: {exc.detail}", err=True)
        raise typer.Exit(1) from None


def emit(value: dict[str, Any]) -> None:
    """Print one JSON object on one line."""
    typer.echo(json.dumps(value, ensure_ascii=False, default=str))


def dumped(model: BaseModel) -> dict[str, Any]:
    """A schema as JSON-ready values."""
    return model.model_dump(mode="json")


def print_table(columns: list[str], rows: list[list[str]], empty: str) -> None:
    """A Rich table, or `empty` when there are no rows."""
    if not rows:
        typer.echo(empty)
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def when(value: Any) -> str:
    """A timestamp to the minute, or "-"."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"
