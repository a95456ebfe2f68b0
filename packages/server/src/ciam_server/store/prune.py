"""Deleting the rows that can no longer matter, so that the tables stop growing.

These rows go:

- challenges whose token has expired and that are older than every window the send limits and
  the wrong-code count read them over (the daily limit's and the applications' quotas' 24 hours,
  the send interval, the failure window): no answer of the server changes when they go;
- idempotency records that have expired (claims replace or skip those anyway);
- refresh tokens that have expired (refused anyway, rotated or not);
- failed sign-ins of a username that is not locked and whose count the next failure would start
  afresh (its first failure is older than the sign-in failure window);
- audit events older than their retention period.

Rows are deleted in batches, each in a transaction of its own, so that SQLite's one writer is
never held for long and PostgreSQL never holds many row locks. Several processes may prune at
once: on PostgreSQL each batch skips the rows another transaction holds (``SKIP LOCKED``), and
SQLite runs the batches one after the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Delete, Table, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from ciam_server.store.tables import (
    AuditEventRow,
    Base,
    IdempotencyKeyRow,
    OtpChallengeRow,
    RefreshTokenRow,
    SignInFailureRow,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 1_000
"""Rows deleted, at most, by one transaction."""

TASK_NAME = "ciam-prune"
"""The name of the task that :func:`pruning` runs."""

DAY = timedelta(hours=24)
"""The window of the daily limit per address and of the applications' daily quotas."""

_challenges = Base.metadata.tables[OtpChallengeRow.__tablename__]
_idempotency_keys = Base.metadata.tables[IdempotencyKeyRow.__tablename__]
_audit_events = Base.metadata.tables[AuditEventRow.__tablename__]
_refresh_tokens = Base.metadata.tables[RefreshTokenRow.__tablename__]
_sign_in_failures = Base.metadata.tables[SignInFailureRow.__tablename__]


@dataclass(frozen=True, kw_only=True)
class Retention:
    """How long rows are kept: the windows that read challenges, and the audit events'
    retention period."""

    send_interval: timedelta
    failure_window: timedelta
    sign_in_failure_window: timedelta
    audit_events: timedelta

    @property
    def challenges(self) -> timedelta:
        """The longest window over which challenges are counted: one created earlier than this
        before now is counted by no limit, now nor later."""
        return max(DAY, self.send_interval, self.failure_window)


@dataclass(frozen=True, kw_only=True)
class PruneCounts:
    """The rows one prune deleted, per table."""

    challenges: int
    idempotency_keys: int
    refresh_tokens: int
    sign_in_failures: int
    audit_events: int


async def prune(
    engine: AsyncEngine,
    *,
    now: datetime,
    retention: Retention,
    batch_size: int = BATCH_SIZE,
) -> PruneCounts:
    """Delete, as of ``now``, the rows that ``retention`` no longer keeps (see the module's
    docstring), ``batch_size`` rows a transaction."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    on_postgresql = engine.dialect.name == "postgresql"
    challenges = _delete_batch(
        _challenges,
        (_challenges.c.created_at < now - retention.challenges)
        & (_challenges.c.token_expires_at <= now),
        _challenges.c.created_at,
        batch_size,
        on_postgresql,
    )
    idempotency_keys = _delete_batch(
        _idempotency_keys,
        _idempotency_keys.c.expires_at <= now,
        _idempotency_keys.c.expires_at,
        batch_size,
        on_postgresql,
    )
    refresh_tokens = _delete_batch(
        _refresh_tokens,
        _refresh_tokens.c.expires_at <= now,
        _refresh_tokens.c.expires_at,
        batch_size,
        on_postgresql,
    )
    sign_in_failures = _delete_batch(
        _sign_in_failures,
        (_sign_in_failures.c.first_failed_at <= now - retention.sign_in_failure_window)
        & (_sign_in_failures.c.locked_until.is_(None) | (_sign_in_failures.c.locked_until <= now)),
        _sign_in_failures.c.first_failed_at,
        batch_size,
        on_postgresql,
    )
    audit_events = _delete_batch(
        _audit_events,
        _audit_events.c.at < now - retention.audit_events,
        _audit_events.c.at,
        batch_size,
        on_postgresql,
    )
    return PruneCounts(
        challenges=await _delete_all(engine, challenges, batch_size),
        idempotency_keys=await _delete_all(engine, idempotency_keys, batch_size),
        refresh_tokens=await _delete_all(engine, refresh_tokens, batch_size),
        sign_in_failures=await _delete_all(engine, sign_in_failures, batch_size),
        audit_events=await _delete_all(engine, audit_events, batch_size),
    )


def _delete_batch(
    table: Table,
    condition: ColumnElement[bool],
    oldest_first: ColumnElement[Any],
    batch_size: int,
    on_postgresql: bool,
) -> Delete:
    """DELETE the (up to) ``batch_size`` oldest rows of ``table`` that meet ``condition``,
    chosen by their primary key: neither engine deletes with a LIMIT of its own."""
    key = list(table.primary_key.columns)
    chosen = select(*key).where(condition).order_by(oldest_first).limit(batch_size)
    if on_postgresql:
        # Rows other transactions hold (a concurrent prune's, a claim replacing an expired
        # idempotency record) are left to them, so that no prune waits for another.
        chosen = chosen.with_for_update(skip_locked=True)
    matched = key[0] if len(key) == 1 else tuple_(*key)
    return delete(table).where(matched.in_(chosen))


async def _delete_all(engine: AsyncEngine, batch: Delete, batch_size: int) -> int:
    """Run ``batch`` in transactions of their own until one deletes fewer than
    ``batch_size`` rows; the rows deleted."""
    deleted = 0
    while True:
        async with engine.begin() as connection:
            result = cast("CursorResult[Any]", await connection.execute(batch))
        deleted += result.rowcount
        if result.rowcount < batch_size:
            return deleted


@asynccontextmanager
async def pruning(
    engine: AsyncEngine,
    *,
    interval: float,
    retention: Retention,
    clock: Callable[[], datetime],
) -> AsyncIterator[None]:
    """Prune every ``interval`` seconds (the first time one interval after entering) until
    the context exits; ``interval`` 0: never.

    Each prune logs one line with its counts. A prune that fails is logged and tried again
    after the next interval; it never ends the loop."""
    if interval <= 0:
        yield
        return
    task = asyncio.create_task(_prune_every(engine, interval, retention, clock), name=TASK_NAME)
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])


async def _prune_every(
    engine: AsyncEngine,
    interval: float,
    retention: Retention,
    clock: Callable[[], datetime],
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            counts = await prune(engine, now=clock(), retention=retention)
        except Exception:  # a database down, locked or unmigrated: try again next time
            logger.exception("pruning failed; it is tried again in %s seconds", interval)
            continue
        logger.info(
            "pruned %d challenges, %d idempotency records, %d refresh tokens, %d failed "
            "sign-in counts and %d audit events",
            counts.challenges,
            counts.idempotency_keys,
            counts.refresh_tokens,
            counts.sign_in_failures,
            counts.audit_events,
        )
