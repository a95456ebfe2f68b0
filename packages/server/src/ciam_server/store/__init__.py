"""Persistent state on SQLAlchemy (SQLite or PostgreSQL) with Alembic migrations."""

from ciam_server.store.database import create_engine, pending_migrations, ping, upgrade
from ciam_server.store.repository import AlreadyExistsError
from ciam_server.store.sql_store import SqlStore

__all__ = [
    "AlreadyExistsError",
    "SqlStore",
    "create_engine",
    "pending_migrations",
    "ping",
    "upgrade",
]
