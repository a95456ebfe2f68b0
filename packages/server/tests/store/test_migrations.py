"""The Alembic migrations shipped with the store."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from ciam_server.store import create_engine, pending_migrations, upgrade
from ciam_server.store.database import _alembic_config
from ciam_server.store.tables import Base

TABLES = {"applications", "users", "password_history", "otp_challenges"}


async def _table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def test_upgrade_creates_the_schema_and_clears_pending(blank_url: str) -> None:
    assert await pending_migrations(blank_url)

    await upgrade(blank_url)

    assert not await pending_migrations(blank_url)
    assert await _table_names(blank_url) == {*TABLES, "alembic_version"}


async def test_upgrade_twice_is_harmless(migrated_url: str) -> None:
    await upgrade(migrated_url)

    assert not await pending_migrations(migrated_url)


async def test_migrated_schema_matches_the_tables(migrated_url: str) -> None:
    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    engine = create_engine(migrated_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_downgrade_to_base_drops_the_schema(migrated_url: str) -> None:
    def downgrade(connection: Connection) -> None:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    engine = create_engine(migrated_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()

    assert await pending_migrations(migrated_url)
    assert await _table_names(migrated_url) == {"alembic_version"}


async def test_migrations_run_from_a_url_in_the_config(blank_url: str) -> None:
    config = _alembic_config()
    config.attributes["url"] = blank_url

    # The environment starts its own event loop for a URL, so it runs outside this one.
    await asyncio.to_thread(command.upgrade, config, "head")

    assert not await pending_migrations(blank_url)
