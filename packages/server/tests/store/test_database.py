"""Engines: SQLite settings and timezone-aware datetimes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import StatementError

from ciam_server.domain.models import NewChallenge
from ciam_server.store import SqlStore, create_engine, pending_migrations, upgrade
from ciam_server.store.database import SQLITE_BUSY_TIMEOUT_MS

from .support import NO_LIMITS


async def test_upgrade_creates_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "ciam.db"
    url = f"sqlite+aiosqlite:///{path}"

    await upgrade(url)

    assert path.is_file()
    assert not await pending_migrations(url)


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ciam.db'}")
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()

    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
    }


async def test_datetimes_come_back_as_aware_utc(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    shanghai = timezone(timedelta(hours=8))
    created = datetime(2026, 5, 9, 20, 30, 15, 123456, tzinfo=shanghai)
    await store.add_challenge(replace(new_challenge, created_at=created), NO_LIMITS)

    found = await store.find_challenge(new_challenge.token_hash)

    assert found is not None
    assert found.created_at == created
    assert found.created_at.tzinfo is UTC
    assert found.created_at == datetime(2026, 5, 9, 12, 30, 15, 123456, tzinfo=UTC)
    assert found.code_expires_at.tzinfo is UTC
    assert found.token_expires_at.tzinfo is UTC


async def test_naive_datetimes_are_refused(store: SqlStore, new_challenge: NewChallenge) -> None:
    naive = datetime(2026, 5, 9, 12, 0)

    with pytest.raises(StatementError, match="naive datetime"):
        await store.add_challenge(replace(new_challenge, created_at=naive), NO_LIMITS)
