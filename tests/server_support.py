"""Helpers for the tests of the server's limits: servers started side by side, a look into a
server's database, client addresses of their own and the contract's error shape.

Each ``_start`` costs a Python start and the server's imports; starting the servers a module
needs at once makes them come up side by side instead of one after the other.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ciam_server.config import Settings
from ciam_server.domain.clients import hash_client_secret
from ciam_server.domain.models import AppType
from ciam_server.domain.passwords import PasswordHashing
from ciam_server.domain.policy import normalize_password
from ciam_server.store import SqlStore, create_engine, upgrade
from ciam_server.testing import CiamTestServer
from ciam_shared import ERROR_CONTENT_TYPE

from .conftest import FAST_ARGON2, SECRET_KEY, Server, _start

T = TypeVar("T")

# 127.0.0.0/8 is loopback on Linux: a client bound to 127.a.b.c reaches the server on 127.0.0.1
# and is seen from that address, so each test can be "another client address".
_loopback_hosts = itertools.count(random.randrange(1, 250 * 250))  # noqa: S311 - not a secret


def loopback_address() -> str:
    """A loopback address other than 127.0.0.1, unique within the test session (and, by its
    random start, unlikely to be another session's)."""
    n = next(_loopback_hosts) % (250 * 250)
    return f"127.{random.randrange(2, 250)}.{n // 250 + 1}.{n % 250 + 1}"  # noqa: S311


def client_from(address: str, **kwargs: Any) -> httpx.Client:
    """An HTTP client whose connections leave from ``address``."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), **kwargs)


@contextmanager
def servers_started(*specs: tuple[Path, dict[str, str]]) -> Iterator[list[Server]]:
    """Start one server per ``(directory, settings)`` side by side; stop them all at the end."""
    starts = [_start(tmp, **settings) for tmp, settings in specs]
    with ExitStack() as stack:
        for start in starts:
            stack.callback(start.close)  # stops a started server, and is a no-op otherwise
        with ThreadPoolExecutor(max_workers=len(starts)) as pool:
            futures = [pool.submit(next, start) for start in starts]
        yield [future.result() for future in futures]


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a loop of its own in a thread of its own, so that sync and async
    tests alike can call it."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def query(server: Server | CiamTestServer, sql: str, **params: object) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``:name`` parameters) on the database of a server process or of a test
    kit's server, SQLite or PostgreSQL."""
    if isinstance(server, Server):
        url = server.env["CIAM_DATABASE_URL"]
    else:
        url = server.settings.database_url

    async def fetch() -> list[tuple[Any, ...]]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(sql), params)
                return [tuple(row) for row in result.all()]
        finally:
            await engine.dispose()

    return run_async(fetch())


def count(server: Server | CiamTestServer, table: str) -> int:
    rows = query(server, f"SELECT count(*) FROM {table}")  # noqa: S608 - a table name of ours
    return int(rows[0][0])


def password_changes(server: Server | CiamTestServer, email: str) -> tuple[int, int]:
    """``(credential_version, entries in the password history)`` of the user with ``email``."""
    [(version, history)] = query(
        server,
        "SELECT u.credential_version, count(h.id) FROM users u "
        "JOIN password_history h ON h.user_id = u.id WHERE u.email = :email "
        "GROUP BY u.id, u.credential_version",
        email=email,
    )
    return int(version), int(history)


def outbox_lines(server: Server) -> list[dict[str, str]]:
    if not server.outbox.exists():
        return []
    return [json.loads(line) for line in server.outbox.read_text(encoding="utf-8").splitlines()]


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    """Check the contract's error shape (``error`` and, optionally, ``error_description``);
    return the description, or "" when there is none."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == ERROR_CONTENT_TYPE
    body = response.json()
    assert isinstance(body, dict)
    assert "error" in body, body
    assert set(body) <= {"error", "error_description"}, body
    assert body["error"] == code, body
    description = body.get("error_description", "")
    assert isinstance(description, str), body
    return description


def retry_after(response: httpx.Response) -> int:
    value = int(response.headers["Retry-After"])
    assert value > 0
    return value


# --- the app in this process ---------------------------------------------------------------------


def in_process_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> Settings:
    """Settings for ``create_app`` on an SQLite file under ``tmp_path``: no limits, cheap argon2,
    and nothing read from the machine's ``CIAM_`` variables or ``.env`` file."""
    for name in list(os.environ):
        if name.upper().startswith("CIAM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'ciam.db'}",
        "outbox_path": tmp_path / "outbox.jsonl",
        "secret_key": SecretStr(SECRET_KEY),
        "otp_send_interval": 0,
        "otp_daily_limit": 0,
        "ip_rate_limit": 0,
        "argon2_time_cost": int(FAST_ARGON2["CIAM_ARGON2_TIME_COST"]),
        "argon2_memory_kib": int(FAST_ARGON2["CIAM_ARGON2_MEMORY_KIB"]),
        "argon2_parallelism": int(FAST_ARGON2["CIAM_ARGON2_PARALLELISM"]),
    }
    return Settings(**(values | overrides))


async def prepare_database(
    settings: Settings, client_id: str, client_secret: str, users: dict[str, str]
) -> None:
    """Migrate the database, and add a web application and the users (email: password)."""
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    hashing = PasswordHashing(settings.argon2, pool_size=1)
    try:
        store = SqlStore(engine)
        await store.create_application(
            client_id=client_id,
            name=client_id,
            app_type=AppType.WEB,
            secret_hash=hash_client_secret(client_secret),
            allow_otp_send=False,
        )
        for email, password in users.items():
            await store.create_user(
                email=email,
                phone_number=None,
                password_hash=await hashing.hash(normalize_password(password)),
                now=datetime.now(UTC),
            )
    finally:
        hashing.close()
        await engine.dispose()
