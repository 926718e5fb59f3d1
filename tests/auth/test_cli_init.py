from __future__ import annotations

import re

import typer
from sqlalchemy import select
from typer.testing import CliRunner

from deshi.auth.service import authenticate_password, load_principal
from deshi.cli import admin, audit
from deshi.db import create_db_engine, make_session_factory
from deshi.db.migrate import current_revision, head_revision
from deshi.db.tables import User
from deshi.domain import Role
from deshi.permissions import Grant


def _cli() -> typer.Typer:
    app = typer.Typer()
    admin.register(app)
    audit.register(app)
    return app


def _password(output: str) -> str:
    match = re.search(r"Password \(shown once, store it now\): (\S+)", output)
    assert match, output
    return match.group(1)


def test_init_creates_schema_and_one_admin_with_a_printed_password(db_url: str) -> None:
    """The password is hashed at the configured cost (DESHI_PASSWORD_HASH_PROFILE, set to
    `fast-insecure` by this package's conftest)."""
    result = CliRunner().invoke(
        _cli(), ["init", "--db", db_url, "--admin-email", "Boss@Example.com"]
    )
    assert result.exit_code == 0, result.output
    password = _password(result.output)
    assert len(password) >= 20
    engine = create_db_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
        with make_session_factory(engine)() as session:
            user = authenticate_password(session, email="boss@example.com", password=password)
            assert user.password_hash is not None
            assert user.password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
            assert load_principal(session, user.id).grants == {Grant(Role.ADMIN, None)}
    finally:
        engine.dispose()


def test_second_init_creates_no_admin_and_prints_no_password(db_url: str) -> None:
    runner = CliRunner()
    first = runner.invoke(_cli(), ["init", "--db", db_url])
    password = _password(first.output)
    second = runner.invoke(_cli(), ["init", "--db", db_url])
    assert second.exit_code == 0, second.output
    assert "Already initialised" in second.output
    assert "Password" not in second.output and password not in second.output
    engine = create_db_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            assert len(session.scalars(select(User)).all()) == 1
    finally:
        engine.dispose()


def test_init_passwords_are_not_reused_across_workspaces(tmp_path: object) -> None:
    runner = CliRunner()
    outputs = [
        runner.invoke(_cli(), ["init", "--db", f"sqlite:///{tmp_path}/{n}.db"]).output for n in "ab"
    ]
    assert _password(outputs[0]) != _password(outputs[1])


def test_audit_log_is_intact_after_init(db_url: str) -> None:
    runner = CliRunner()
    runner.invoke(_cli(), ["init", "--db", db_url])
    result = runner.invoke(_cli(), ["audit", "verify", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "intact: 2 events" in result.output  # user.create + role.grant
