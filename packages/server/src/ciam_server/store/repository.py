"""What every repository shares: the engine, and one transaction per public method."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


class AlreadyExistsError(Exception):
    """An application or user with the same client_id, email or phone number exists."""


class Repository:
    """A repository's public methods each run in a transaction of their own
    (``self._engine.begin()``) and return once it has committed. Datetimes are timezone-aware
    UTC."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._on_postgresql = engine.dialect.name == "postgresql"
