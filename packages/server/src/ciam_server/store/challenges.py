"""One-time-code challenges: issued within the send limits, checked within the attempt limits.

Two writes must never interleave with another of the same address: a send (its limits are
counted from the challenges already stored) and a code check (the address's wrong codes are
capped across all its challenges). SQLite runs one write transaction at a time (every
transaction begins IMMEDIATE). On PostgreSQL both take a transaction-scoped advisory lock on
the channel and identifier before counting, and a send under an application quota one on the
application and channel too: concurrent writes that could decide each other's limits queue, on
every server instance alike.

The statements are built once, with bound parameters: building a statement and the key under
which SQLAlchemy caches its compiled form costs more than running it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, Row, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ciam_server.domain.models import (
    AttemptLimits,
    AuditEvent,
    Challenge,
    Channel,
    NewChallenge,
    Refusal,
    RefusalReason,
    SendLimits,
)
from ciam_server.store.audit import INSERT_EVENT, event_row
from ciam_server.store.repository import Repository
from ciam_server.store.tables import Base, OtpChallengeRow

DAY = timedelta(hours=24)
"""The window of the daily limit and of the applications' daily quotas."""

_CHALLENGES = Base.metadata.tables[OtpChallengeRow.__tablename__]
_LIVE = (_CHALLENGES.c.consumed_at.is_(None), _CHALLENGES.c.retired_at.is_(None))
_ADDRESS = (
    _CHALLENGES.c.channel == bindparam("channel"),
    _CHALLENGES.c.identifier == bindparam("identifier"),
)
_ADVISORY_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))

_BY_TOKEN = select(_CHALLENGES).where(_CHALLENGES.c.token_hash == bindparam("token_hash"))
_INSERT = insert(_CHALLENGES).returning(_CHALLENGES.c.id)
"""Store a challenge (parameters: its columns); its id."""
# An UPDATE's parameters cannot take the names of the columns it sets.
_RETIRE_LIVE = (
    update(_CHALLENGES)
    .where(
        _CHALLENGES.c.usage == bindparam("of_usage"),
        _CHALLENGES.c.channel == bindparam("of_channel"),
        _CHALLENGES.c.identifier == bindparam("of_identifier"),
        *_LIVE,
    )
    .values(retired_at=bindparam("now"))
)
_RETIRE_ONE = (
    update(_CHALLENGES)
    .where(_CHALLENGES.c.id == bindparam("challenge_id"), *_LIVE)
    .values(retired_at=bindparam("now"))
)
_RESERVE = (
    update(_CHALLENGES)
    .where(
        _CHALLENGES.c.id == bindparam("challenge_id"),
        _CHALLENGES.c.attempts < bindparam("max_attempts"),
        *_LIVE,
    )
    .values(attempts=_CHALLENGES.c.attempts + 1)
)
_RELEASE = (
    update(_CHALLENGES)
    .where(_CHALLENGES.c.id == bindparam("challenge_id"), _CHALLENGES.c.attempts > 0)
    .values(attempts=_CHALLENGES.c.attempts - 1)
)
_NTH_NEWEST_OF_APPLICATION = (
    select(_CHALLENGES.c.created_at)
    .where(
        _CHALLENGES.c.client_id == bindparam("client_id"),
        _CHALLENGES.c.channel == bindparam("channel"),
        _CHALLENGES.c.created_at > bindparam("after"),
    )
    .order_by(_CHALLENGES.c.created_at.desc(), _CHALLENGES.c.id.desc())
    .offset(bindparam("skip", type_=Integer))
    .limit(1)
)
_NEWEST_OF_ADDRESS = (
    select(_CHALLENGES.c.created_at)
    .where(*_ADDRESS, _CHALLENGES.c.created_at > bindparam("after"))
    .order_by(_CHALLENGES.c.created_at.desc(), _CHALLENGES.c.id.desc())
    .limit(bindparam("count", type_=Integer))
)
_FAILED_OF_ADDRESS = (
    select(_CHALLENGES.c.created_at, _CHALLENGES.c.attempts)
    .where(*_ADDRESS, _CHALLENGES.c.created_at > bindparam("after"), _CHALLENGES.c.attempts > 0)
    .order_by(_CHALLENGES.c.created_at, _CHALLENGES.c.id)
)


class Challenges(Repository):
    async def add_challenge(
        self, challenge: NewChallenge, limits: SendLimits, audit: AuditEvent | None = None
    ) -> int | Refusal:
        """Check ``limits`` against the challenges already stored and, when none is reached,
        store ``challenge`` and ``audit`` and retire every earlier live challenge for the same
        usage, channel and identifier; return the new challenge's id. A refusal stores nothing.

        "Now" is the challenge's ``created_at``. Limits are checked in this order: the
        application's quota for the channel (challenges of this client_id and channel created in
        the last 24 h), the interval (the newest challenge for this channel and identifier), the
        daily limit (challenges for this channel and identifier in the last 24 h), the failures
        (attempts counted on the challenges for this channel and identifier created within
        ``failure_window``). A refusal's ``retry_after`` is the whole number of seconds, rounded
        up and at least 1, until the challenge that decides it leaves its window.
        """
        audit_row = None if audit is None else event_row(audit)  # checked before writing
        async with self._engine.begin() as connection:
            if self._on_postgresql:
                names = [_address_lock(challenge.channel, challenge.identifier)]
                if limits.app_daily_quota is not None:
                    names.append(f"ciam.application\0{challenge.channel}\0{challenge.client_id}")
                await _lock(connection, names)
            refusal = await _send_refusal(connection, challenge, limits)
            if refusal is not None:
                return refusal
            await connection.execute(
                _RETIRE_LIVE,
                {
                    "of_usage": challenge.usage,
                    "of_channel": challenge.channel.value,
                    "of_identifier": challenge.identifier,
                    "now": challenge.created_at,
                },
            )
            added = await connection.execute(
                _INSERT,
                {
                    "client_id": challenge.client_id,
                    "usage": challenge.usage,
                    "channel": challenge.channel.value,
                    "identifier": challenge.identifier,
                    "token_hash": challenge.token_hash,
                    "code_hash": challenge.code_hash,
                    "created_at": challenge.created_at,
                    "code_expires_at": challenge.code_expires_at,
                    "token_expires_at": challenge.token_expires_at,
                    "attempts": 0,
                },
            )
            challenge_id: int = added.scalar_one()
            if audit_row is not None:
                await connection.execute(INSERT_EVENT, audit_row)
        return challenge_id

    async def retire_challenge(self, challenge_id: int, now: datetime) -> None:
        """Make a challenge unusable (its code could not be delivered), unless it is consumed
        or retired already."""
        async with self._engine.begin() as connection:
            await connection.execute(_RETIRE_ONE, {"challenge_id": challenge_id, "now": now})

    async def find_challenge(self, token_hash: str) -> Challenge | None:
        """The challenge whose token hashes to ``token_hash``."""
        async with self._engine.begin() as connection:
            row = (await connection.execute(_BY_TOKEN, {"token_hash": token_hash})).first()
        return None if row is None else _challenge(row)

    async def reserve_attempt(
        self,
        challenge: Challenge,
        limits: AttemptLimits,
        now: datetime,
        audit: AuditEvent | None = None,
    ) -> bool | Refusal:
        """Count one code check against ``challenge``, atomically, only while it has fewer than
        ``limits.max_attempts`` attempts, is neither consumed nor retired, and its address has
        fewer than ``limits.failure_limit`` attempts over the failure window; store ``audit``
        with it. True when counted. False (the challenge is used up) or a ``FAILURES`` refusal
        (the address is) when not; nothing is stored then."""
        audit_row = None if audit is None else event_row(audit)
        async with self._engine.begin() as connection:
            if limits.failure_limit > 0:
                address = _address_lock(challenge.channel, challenge.identifier)
                if self._on_postgresql:
                    await _lock(connection, [address])
                refusal = await _failures_refusal(
                    connection,
                    challenge,
                    limit=limits.failure_limit,
                    window=limits.failure_window,
                    now=now,
                )
                if refusal is not None:
                    return refusal
            counted = await connection.execute(
                _RESERVE, {"challenge_id": challenge.id, "max_attempts": limits.max_attempts}
            )
            if counted.rowcount != 1:
                return False
            if audit_row is not None:
                await connection.execute(INSERT_EVENT, audit_row)
        return True

    async def release_attempt(self, challenge_id: int) -> None:
        """Give back an attempt reserved for a check that found the right code."""
        async with self._engine.begin() as connection:
            await connection.execute(_RELEASE, {"challenge_id": challenge_id})


def _address_lock(channel: Channel, identifier: str) -> str:
    return f"ciam.address\0{channel}\0{identifier}"


async def _lock(connection: AsyncConnection, names: list[str]) -> None:
    """Take PostgreSQL's transaction-scoped advisory locks named ``names``, in ascending order
    of their keys, so that two transactions never wait for each other in a cycle."""
    for key in sorted({advisory_lock_key(name) for name in names}):
        await connection.execute(_ADVISORY_LOCK, {"key": key})


def advisory_lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``, the same on every process
    (unlike Python's ``hash``)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _send_refusal(
    connection: AsyncConnection, challenge: NewChallenge, limits: SendLimits
) -> Refusal | None:
    """The first send limit the challenge would exceed, in the order the contract gives."""
    now, channel = challenge.created_at, challenge.channel
    quota = limits.app_daily_quota
    if quota is not None:
        if quota <= 0:
            # No challenge's leaving makes room: retry when a whole window has passed.
            return Refusal(reason=RefusalReason.APP_QUOTA, retry_after=_seconds(DAY))
        nth_newest = await connection.scalar(
            _NTH_NEWEST_OF_APPLICATION,
            {
                "client_id": challenge.client_id,
                "channel": channel.value,
                "after": now - DAY,
                "skip": quota - 1,
            },
        )
        if nth_newest is not None:
            return _refusal(RefusalReason.APP_QUOTA, nth_newest + DAY - now)
    refusal = await _address_refusal(connection, challenge, limits)
    if refusal is None and limits.failure_limit > 0:
        refusal = await _failures_refusal(
            connection,
            challenge,
            limit=limits.failure_limit,
            window=limits.failure_window,
            now=now,
        )
    return refusal


async def _address_refusal(
    connection: AsyncConnection, challenge: NewChallenge, limits: SendLimits
) -> Refusal | None:
    """The interval, then the daily limit, read from one query: the newest challenge decides
    the interval, the ``daily_limit``-th newest of the last day the daily limit."""
    interval = limits.interval if limits.interval > timedelta(0) else None
    daily = limits.daily_limit if limits.daily_limit > 0 else None
    if interval is None and daily is None:
        return None
    now = challenge.created_at
    window = max(interval or timedelta(0), DAY if daily is not None else timedelta(0))
    newest: list[datetime] = list(
        await connection.scalars(
            _NEWEST_OF_ADDRESS,
            {
                "channel": challenge.channel.value,
                "identifier": challenge.identifier,
                "after": now - window,
                "count": daily or 1,
            },
        )
    )
    if interval is not None and newest and newest[0] > now - interval:
        return _refusal(RefusalReason.INTERVAL, newest[0] + interval - now)
    if daily is not None and len(newest) >= daily and newest[daily - 1] > now - DAY:
        return _refusal(RefusalReason.DAILY_LIMIT, newest[daily - 1] + DAY - now)
    return None


async def _failures_refusal(
    connection: AsyncConnection,
    address: NewChallenge,
    *,
    limit: int,
    window: timedelta,
    now: datetime,
) -> Refusal | None:
    """A ``FAILURES`` refusal while the attempts counted on the challenges for ``address``'s
    channel and identifier created within ``window`` reach ``limit``. The oldest challenges
    leave the window first; the one whose leaving brings the sum below the limit decides
    ``retry_after``."""
    failed = (
        await connection.execute(
            _FAILED_OF_ADDRESS,
            {
                "channel": address.channel.value,
                "identifier": address.identifier,
                "after": now - window,
            },
        )
    ).all()
    total = sum(attempts for _, attempts in failed)
    for created_at, attempts in failed:
        if total < limit:
            break
        total -= attempts
        if total < limit:
            return _refusal(RefusalReason.FAILURES, created_at + window - now)
    return None


def _refusal(reason: RefusalReason, wait: timedelta) -> Refusal:
    return Refusal(reason=reason, retry_after=_seconds(wait))


def _seconds(wait: timedelta) -> int:
    """Whole seconds, rounded up, and at least 1."""
    microseconds = wait // timedelta(microseconds=1)
    return max(1, -(-microseconds // 1_000_000))


def _challenge(row: Row[Any]) -> Challenge:
    return Challenge(
        id=row.id,
        client_id=row.client_id,
        usage=row.usage,
        channel=Channel(row.channel),
        identifier=row.identifier,
        token_hash=row.token_hash,
        code_hash=row.code_hash,
        created_at=row.created_at,
        code_expires_at=row.code_expires_at,
        token_expires_at=row.token_expires_at,
        attempts=row.attempts,
        consumed_at=row.consumed_at,
        retired_at=row.retired_at,
    )
