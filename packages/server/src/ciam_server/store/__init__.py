"""Persistent state on SQLAlchemy (SQLite or PostgreSQL) with Alembic migrations."""

from ciam_server.store.database import create_engine, pending_migrations, upgrade
from ciam_server.store.sql_store import AlreadyExistsError, SqlStore

__all__ = ["AlreadyExistsError", "SqlStore", "create_engine", "pending_migrations", "upgrade"]
