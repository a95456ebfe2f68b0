"""Fixtures that run every store test against SQLite and against PostgreSQL.

SQLite: a file under ``tmp_path``. PostgreSQL: a database created for the test session on the
server named by ``CIAM_TEST_POSTGRES_URL`` (default below; any existing database there will do
to connect to) and dropped at the end; each test gets an empty ``public`` schema. When that
server cannot be reached the PostgreSQL tests are skipped, except under ``CI=true``, where
they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from tests.ci import unavailable

from ciam_server.domain.models import Channel, NewChallenge, User
from ciam_server.store import SqlStore, create_engine, upgrade

from .support import EMAIL, NOW

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def _run_autocommit(url: URL | str, *statements: str) -> None:
    engine = create_async_engine(
        url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"timeout": 5}
    )
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session.

    Synchronous, with loops of its own, so that it can be requested lazily (by the PostgreSQL
    variant of :func:`database_url`) without tying the database to any test's event loop.
    """
    server = make_url(os.environ.get("CIAM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    name = f"ciam_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_run_autocommit(server, f'CREATE DATABASE "{name}"'))
    except (OSError, SQLAlchemyError) as error:
        unavailable(
            f"PostgreSQL at {server.render_as_string()} is unreachable ({error!r}); "
            "set CIAM_TEST_POSTGRES_URL to a reachable server"
        )
    yield server.set(database=name).render_as_string(hide_password=False)
    asyncio.run(_run_autocommit(server, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database for one test; PostgreSQL's may hold an earlier test's tables."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'ciam.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def blank_url(database_url: str) -> str:
    """The URL of a database without any table."""
    if database_url.startswith("postgresql"):
        await _run_autocommit(database_url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
    return database_url


@pytest.fixture
async def migrated_url(blank_url: str) -> str:
    await upgrade(blank_url)
    return blank_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def store(engine: AsyncEngine) -> SqlStore:
    return SqlStore(engine)


@pytest.fixture
def new_challenge() -> NewChallenge:
    """A challenge for :data:`EMAIL`; vary it with ``dataclasses.replace``."""
    return NewChallenge(
        client_id="web-app",
        usage="reset_password",
        channel=Channel.EMAIL,
        identifier=EMAIL,
        token_hash="token-hash-1",
        code_hash="code-hash-1",
        created_at=NOW,
        code_expires_at=NOW + timedelta(seconds=300),
        token_expires_at=NOW + timedelta(seconds=600),
    )


@pytest.fixture
async def user(store: SqlStore) -> User:
    """A user with the email :data:`EMAIL` and the password hash ``hash-0``."""
    return await store.create_user(email=EMAIL, phone_number=None, password_hash="hash-0", now=NOW)
