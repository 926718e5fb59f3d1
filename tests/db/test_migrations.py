from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from deshi.db import create_db_engine
from deshi.db.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from deshi.db.tables import Base


def test_upgrade_creates_every_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert current_revision(engine) == head_revision()


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision()


def test_downgrade_to_base_then_upgrade_again(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert not set(Base.metadata.tables) & set(inspect(engine).get_table_names())
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrading_clears_the_default_language_so_the_browser_decides(db_url: str) -> None:
    engine = create_db_engine(db_url)
    users = text("SELECT email, locale FROM users ORDER BY email")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0004")
            for email, locale in (("a@example.com", "en"), ("b@example.com", "ja")):
                conn.execute(
                    text(
                        "INSERT INTO users (email, display_name, locale, is_active, created_at)"
                        " VALUES (:email, :email, :locale, :active, CURRENT_TIMESTAMP)"
                    ),
                    {"email": email, "locale": locale, "active": True},
                )
        upgrade_to_head(engine)
        with engine.connect() as conn:
            assert conn.execute(users).all() == [("a@example.com", ""), ("b@example.com", "ja")]
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0004")
            assert conn.execute(users).all() == [("a@example.com", "en"), ("b@example.com", "ja")]
    finally:
        engine.dispose()
