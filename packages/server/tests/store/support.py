"""Values and helpers shared by the store tests."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ciam_server.domain.models import (
    AttemptLimits,
    Challenge,
    NewChallenge,
    Refusal,
    SendLimits,
)
from ciam_server.store import SqlStore

NOW = datetime(2026, 5, 9, 12, 0, tzinfo=UTC)
EMAIL = "ada@example.com"

NO_LIMITS = SendLimits(
    interval=timedelta(0),
    daily_limit=0,
    failure_limit=0,
    failure_window=timedelta(0),
    app_daily_quota=None,
)
"""Send limits that are all off."""


async def find_challenge(store: SqlStore, token_hash: str) -> Challenge | None:
    """The challenge stored under ``token_hash``, read as a code check reads it."""
    return await store.find_challenge(token_hash)


def attempts(
    max_attempts: int, *, failure_limit: int = 0, failure_window: timedelta = timedelta(0)
) -> AttemptLimits:
    """Attempt limits: ``max_attempts`` per challenge, the per-address limit off unless given."""
    return AttemptLimits(
        max_attempts=max_attempts, failure_limit=failure_limit, failure_window=failure_window
    )


async def add(
    store: SqlStore, challenge: NewChallenge, limits: SendLimits = NO_LIMITS
) -> Challenge:
    """Store ``challenge``, which the limits must let through, and return it as stored."""
    challenge_id = await store.add_challenge(challenge, limits)
    assert not isinstance(challenge_id, Refusal), challenge_id
    stored = await find_challenge(store, challenge.token_hash)
    assert stored is not None
    assert stored.id == challenge_id
    return stored


def at(challenge: NewChallenge, created_at: datetime, **changes: Any) -> NewChallenge:
    """``challenge`` created at ``created_at``, with a token hash of its own and ``changes``."""
    return replace(
        challenge,
        token_hash=f"token-{uuid.uuid4().hex}",
        created_at=created_at,
        code_expires_at=created_at + timedelta(seconds=300),
        token_expires_at=created_at + timedelta(seconds=600),
        **changes,
    )


def limits(
    *,
    interval: timedelta = timedelta(0),
    daily_limit: int = 0,
    failure_limit: int = 0,
    failure_window: timedelta = timedelta(0),
    app_daily_quota: int | None = None,
) -> SendLimits:
    """Send limits, every one off unless given."""
    return SendLimits(
        interval=interval,
        daily_limit=daily_limit,
        failure_limit=failure_limit,
        failure_window=failure_window,
        app_daily_quota=app_daily_quota,
    )
