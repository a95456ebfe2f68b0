"""Engines: SQLite settings and timezone-aware datetimes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.exc import StatementError

from ciam_server.domain.models import NewChallenge
from ciam_server.store import SqlStore, create_engine, pending_migrations, upgrade
from ciam_server.store.database import SQLITE_BUSY_TIMEOUT_MS
from ciam_server.store.tables import Base, OtpChallengeRow

from .support import NO_LIMITS, find_challenge


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

    found = await find_challenge(store, new_challenge.token_hash)

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


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 5, 9, 12, 0, tzinfo=UTC),  # whole seconds still carry six digits
        datetime(2026, 5, 9, 20, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8))),
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    ],
)
def test_sqlite_stores_the_text_sqlalchemy_datetime_writes(moment: datetime) -> None:
    """Databases written before keep comparing and sorting right: the text is the same."""
    engine = sqlalchemy.create_engine("sqlite://")
    table = Base.metadata.tables[OtpChallengeRow.__tablename__]
    Base.metadata.create_all(engine, tables=[table])
    row = {
        "client_id": "app",
        "usage": "reset_password",
        "channel": "email",
        "identifier": "a@example.com",
        "token_hash": "t",
        "code_hash": "c",
        "created_at": moment,
        "code_expires_at": moment,
        "token_expires_at": moment,
        "attempts": 0,
    }
    with engine.begin() as connection:
        connection.execute(table.insert(), row)
        stored = connection.exec_driver_sql("SELECT created_at FROM otp_challenges").scalar_one()
        read = connection.execute(sqlalchemy.select(table.c.created_at)).scalar_one()

    naive_utc = moment.astimezone(UTC).replace(tzinfo=None)
    sqlalchemy_text = SQLITE_DATETIME().bind_processor(engine.dialect)  # type: ignore[no-untyped-call]
    assert sqlalchemy_text is not None
    assert stored == sqlalchemy_text(naive_utc)
    assert read == moment
    assert read.tzinfo is UTC


async def test_postgresql_transactions_share_the_pool_and_open_no_more(postgres_url: str) -> None:
    """Connections are reused, never opened beyond the pool for a burst and closed again."""
    engine = create_engine(postgres_url, pool_size=3)

    async def backend() -> int:
        async with engine.begin() as connection:
            pid = await connection.scalar(sqlalchemy.text("SELECT pg_backend_pid()"))
            await connection.execute(sqlalchemy.text("SELECT pg_sleep(0.02)"))
            return int(pid)

    try:
        first = await asyncio.gather(*(backend() for _ in range(12)))
        second = await asyncio.gather(*(backend() for _ in range(12)))
    finally:
        await engine.dispose()

    assert len(set(first)) == 3
    assert set(second) == set(first)
