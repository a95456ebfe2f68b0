"""Alembic environment for the store.

The migrations run on the connection in ``config.attributes["connection"]`` when one is given
(that is what :func:`ciam_server.store.upgrade` does), else on a new engine for the URL in
``config.attributes["url"]``. Async engines run them through ``run_sync``.

A new revision can be drafted against a migrated database with
``command.revision(config, message=..., autogenerate=True)``, using the configuration of
:mod:`ciam_server.store.database` with ``attributes["url"]`` set; review it before committing.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from ciam_server.store.database import create_engine
from ciam_server.store.tables import Base

config = context.config


def run_migrations(connection: Connection) -> None:
    # Batch mode lets later migrations alter tables on SQLite, which lacks most ALTER TABLE.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_at(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")

if "connection" in config.attributes:
    run_migrations(config.attributes["connection"])
elif "url" in config.attributes:
    asyncio.run(run_migrations_at(config.attributes["url"]))
else:
    raise RuntimeError('set config.attributes["connection"] or config.attributes["url"]')
