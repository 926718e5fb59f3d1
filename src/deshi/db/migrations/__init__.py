"""Alembic migrations of deshi; run them with `deshi init` or `deshi.db.migrate.upgrade_to_head`."""
