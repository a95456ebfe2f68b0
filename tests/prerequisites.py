"""What the tests need besides the project's packages: Chromium for the browser tests
(``tests/e2e``), PostgreSQL (``CIAM_TEST_POSTGRES_URL``, default: trust authentication on
127.0.0.1:5432, database ``test``) and Redis (``CIAM_TEST_REDIS_URL``, default 127.0.0.1:6379).

``python -m tests.prerequisites``, which the ``tests`` session runs before pytest, names each
one missing. Without it the tests needing it are skipped; under ``CI=true`` they would fail one
by one, so this fails first, saying what to provide.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.ci import under_ci
from tests.postgres import CONNECT_TIMEOUT, run, server_url

REDIS_URL = os.environ.get("CIAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def chromium_executable() -> str | None:
    """Debian's ``chromium``, which the browser tests drive, or None."""
    found = shutil.which("chromium")
    if found is not None:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


async def _select_one() -> None:
    engine = create_async_engine(
        server_url(), poolclass=NullPool, connect_args={"timeout": CONNECT_TIMEOUT}
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def missing() -> list[str]:
    """What the tests need and do not find, each with how to provide it."""
    found: list[str] = []
    if chromium_executable() is None:
        found.append("Chromium: not installed (Debian: apt-get install chromium)")
    try:
        run(_select_one())
    except (OSError, SQLAlchemyError) as error:
        found.append(
            f"PostgreSQL: {server_url().render_as_string()} does not answer ({error}); "
            "set CIAM_TEST_POSTGRES_URL to a reachable server"
        )
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        found.append(
            f"Redis: {REDIS_URL} does not answer ({error}); "
            "set CIAM_TEST_REDIS_URL to a reachable server"
        )
    finally:
        client.close()
    return found


def main() -> int:
    problems = missing()
    for problem in problems:
        print(f"missing for the tests: {problem}", file=sys.stderr)
    if problems and under_ci():
        print("CI=true: every test must run, so none is started.", file=sys.stderr)
        return 1
    if problems:
        print("The tests needing them are skipped (pytest -ra lists them).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
