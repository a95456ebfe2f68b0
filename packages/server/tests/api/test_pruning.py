"""The served app prunes its database every ``CIAM_PRUNE_INTERVAL`` seconds while it runs, and
stops when it shuts down."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ciam_server.app import create_app
from ciam_server.domain.models import AuditAction, AuditEvent, Channel, NewChallenge, SendLimits
from ciam_server.store import SqlStore
from ciam_server.store.prune import TASK_NAME

from .support import EMAIL, WEB_CLIENT_ID, make_settings

PRUNE_LOGGER = "ciam_server.store.prune"
NO_LIMITS = SendLimits(
    interval=timedelta(0),
    daily_limit=0,
    failure_limit=0,
    failure_window=timedelta(0),
    app_daily_quota=None,
)


def _prune_tasks(client: AsyncTestClient[Litestar]) -> list[asyncio.Task[Any]]:
    """The pruning tasks of the app's event loop (the test client runs the app in a loop of
    its own)."""

    def find() -> list[asyncio.Task[Any]]:
        return [task for task in asyncio.all_tasks() if task.get_name() == TASK_NAME]

    return client.blocking_portal.call(find)


async def _store_old_rows(store: SqlStore) -> None:
    """A challenge of two days ago and an audit event of 400 days ago."""
    now = datetime.now(UTC)
    sent = now - timedelta(days=2)
    challenge = NewChallenge(
        client_id=WEB_CLIENT_ID,
        usage="reset_password",
        channel=Channel.EMAIL,
        identifier=EMAIL,
        token_hash="old-token-hash",
        code_hash="old-code-hash",
        created_at=sent,
        code_expires_at=sent + timedelta(minutes=5),
        token_expires_at=sent + timedelta(minutes=10),
    )
    assert isinstance(await store.add_challenge(challenge, NO_LIMITS), int)
    await store.record_audit_event(
        AuditEvent(
            at=now - timedelta(days=400),
            action=AuditAction.CODE_SENT,
            client_id=WEB_CLIENT_ID,
            channel=Channel.EMAIL,
            identifier=EMAIL,
        )
    )


async def test_the_app_prunes_every_interval_and_stops_at_shutdown(
    database_url: str, outbox: Path, store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=PRUNE_LOGGER)
    await _store_old_rows(store)
    settings = make_settings(database_url, outbox, prune_interval=1)

    async with AsyncTestClient(app=create_app(settings)) as client:
        [task] = _prune_tasks(client)
        for _ in range(50):  # up to 5 seconds
            if any(record.name == PRUNE_LOGGER for record in caplog.records):
                break
            await asyncio.sleep(0.1)
        assert (await client.get("/healthz")).status_code == 200

    assert task.cancelled()
    [line] = [record.getMessage() for record in caplog.records if record.name == PRUNE_LOGGER]
    assert line == (
        "pruned 1 challenges, 0 idempotency records, 0 refresh tokens, 0 failed sign-in "
        "counts and 1 audit events"
    )
    assert await store.audit_events() == []


async def test_an_interval_of_zero_turns_background_pruning_off(
    database_url: str, outbox: Path, store: SqlStore
) -> None:
    settings = make_settings(database_url, outbox, prune_interval=0)

    async with AsyncTestClient(app=create_app(settings)) as client:
        assert _prune_tasks(client) == []
