"""Storage: engine and session factories, tables, and the Alembic migrations that create them."""

from deshi.db.engine import create_db_engine, engine_from_settings, is_sqlite
from deshi.db.session import make_session_factory, transaction

__all__ = [
    "create_db_engine",
    "engine_from_settings",
    "is_sqlite",
    "make_session_factory",
    "transaction",
]
