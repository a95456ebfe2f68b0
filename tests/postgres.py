"""PostgreSQL for the cross-package tests: a fresh database per server, dropped afterwards.

The databases are created on the PostgreSQL server named by ``CIAM_TEST_POSTGRES_URL`` (default
below: the one CI starts; any existing database there will do to connect to), named
``ciam_cross_<random>``, and dropped ``WITH (FORCE)``, so that a server still connected cannot keep
one alive. When PostgreSQL cannot be reached the tests needing it are skipped, except under
``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ciam_server.store import upgrade

from .ci import unavailable

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT = 5  # seconds

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on an event loop of its own in a thread of its own, so that it can be
    called whether or not the calling thread runs a loop (as an async test's does)."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def server_url() -> URL:
    return make_url(os.environ.get("CIAM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


async def _execute_autocommit(url: URL, *statements: str) -> None:
    """CREATE and DROP DATABASE refuse to run in a transaction: run them outside of any."""
    engine = create_async_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"timeout": CONNECT_TIMEOUT},
    )
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@contextmanager
def fresh_database(template: str | None = None) -> Iterator[str]:
    """The ``postgresql+asyncpg://`` URL of a new database, dropped on exit: empty, or a copy of
    the database named ``template``."""
    server = server_url()
    name = f"ciam_cross_{uuid.uuid4().hex[:12]}"
    copy = "" if template is None else f' TEMPLATE "{template}"'
    try:
        run(_execute_autocommit(server, f'CREATE DATABASE "{name}"{copy}'))
    except (OSError, SQLAlchemyError) as error:
        unavailable(
            f"PostgreSQL at {server.render_as_string()} is unreachable ({error!r}); "
            "set CIAM_TEST_POSTGRES_URL to a reachable server"
        )
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        run(_execute_autocommit(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def migrated_template() -> Iterator[str]:
    """The name of a fresh database migrated to the newest schema, for :func:`fresh_database`
    to copy: a copy costs a fraction of running the migrations again. Dropped on exit."""
    with fresh_database() as url:
        run(upgrade(url))
        yield make_url(url).database or ""
