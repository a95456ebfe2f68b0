"""An app built by ``create_app`` on a migrated SQLite file under ``tmp_path``, served in-process.

The database holds a confidential web application, a public application enabled for
``/otp/send``, a public one that is not, an active user and a frozen one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ciam_server.app import create_app
from ciam_server.config import Settings
from ciam_server.domain.clients import hash_client_secret
from ciam_server.domain.models import AppType, Channel
from ciam_server.domain.passwords import PasswordHashing
from ciam_server.domain.policy import normalize_password
from ciam_server.store import SqlStore, create_engine, upgrade

from .support import (
    EMAIL,
    FAST_ARGON2,
    FROZEN_EMAIL,
    MOBILE_CLIENT_ID,
    OLD_PASSWORD,
    SPA_CLIENT_ID,
    WEB_CLIENT_ID,
    WEB_CLIENT_SECRET,
    make_settings,
)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``CIAM_`` variable or ``.env`` file of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("CIAM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/t.db"


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox.jsonl"


@pytest.fixture
def settings(database_url: str, outbox: Path) -> Settings:
    return make_settings(database_url, outbox)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    """The migrated database with its applications and users."""
    await upgrade(database_url)
    engine = create_engine(database_url)
    store = SqlStore(engine)
    await store.create_application(
        client_id=WEB_CLIENT_ID,
        name="Web app",
        app_type=AppType.WEB,
        secret_hash=hash_client_secret(WEB_CLIENT_SECRET),
        allow_otp_send=False,
    )
    await store.create_application(
        client_id=SPA_CLIENT_ID,
        name="Single-page app",
        app_type=AppType.SPA,
        secret_hash=None,
        allow_otp_send=True,
    )
    await store.create_application(
        client_id=MOBILE_CLIENT_ID,
        name="Mobile app",
        app_type=AppType.MOBILE,
        secret_hash=None,
        allow_otp_send=False,
    )
    hashing = PasswordHashing(FAST_ARGON2, pool_size=1)
    try:
        password_hash = await hashing.hash(normalize_password(OLD_PASSWORD))
    finally:
        hashing.close()
    now = datetime.now(UTC)
    for email in (EMAIL, FROZEN_EMAIL):
        await store.create_user(
            email=email, phone_number=None, password_hash=password_hash, now=now
        )
    await store.set_user_frozen(Channel.EMAIL, FROZEN_EMAIL, True)
    try:
        yield store
    finally:
        await engine.dispose()


@pytest.fixture
def app(settings: Settings, store: SqlStore) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record at DEBUG and above, Litestar's own logger (which does not propagate)
    included."""
    caplog.set_level(logging.DEBUG)
    litestar_logger = logging.getLogger("litestar")
    litestar_logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        litestar_logger.removeHandler(caplog.handler)
