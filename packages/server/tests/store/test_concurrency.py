"""Concurrent callers, each on a connection of its own."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ciam_server.domain.models import Channel, NewChallenge, Refusal, RefusalReason, User
from ciam_server.store import SqlStore, create_engine
from ciam_server.store.tables import OtpChallengeRow

from .support import NOW, add, at, attempts, find_challenge, limits

CALLERS = 20


async def test_only_one_of_many_concurrent_resets_wins(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    challenge = await add(store, new_challenge)

    results = await asyncio.gather(
        *(
            store.complete_reset(
                challenge_id=challenge.id,
                user_id=user.id,
                new_password_hash=f"hash-{caller}",
                history_depth=5,
                now=challenge.created_at,
            )
            for caller in range(CALLERS)
        )
    )

    assert results.count(True) == 1
    winner = f"hash-{results.index(True)}"
    assert user.email is not None
    changed = await store.find_user(Channel.EMAIL, user.email)
    assert changed is not None
    assert changed.password_hash == winner
    assert changed.credential_version == 1
    assert await store.recent_password_hashes(user.id, 10) == [winner, "hash-0"]


async def test_concurrent_checks_reserve_no_more_than_the_maximum(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    challenge = await add(store, new_challenge)

    results = await asyncio.gather(
        *(store.reserve_attempt(challenge, attempts(5), NOW) for _ in range(CALLERS))
    )

    assert results.count(True) == 5
    found = await find_challenge(store, challenge.token_hash)
    assert found is not None
    assert found.attempts == 5


async def test_concurrent_checks_pass_the_address_limit_once_across_instances(
    engine: AsyncEngine, migrated_url: str, new_challenge: NewChallenge
) -> None:
    """With one wrong code left before the address's limit, simultaneous checks on two
    instances (two engines) get exactly one more checked; the others are refused."""
    limit = attempts(5, failure_limit=10, failure_window=timedelta(hours=1))
    first = SqlStore(engine)
    for number in range(3):  # 9 wrong codes on three earlier tokens
        earlier = await add(first, at(new_challenge, NOW - timedelta(minutes=30 - number)))
        for _ in range(3):
            assert await first.reserve_attempt(earlier, limit, NOW) is True
    challenge = await add(first, at(new_challenge, NOW))
    other_engine = create_engine(migrated_url)
    try:
        second = SqlStore(other_engine)
        results = await asyncio.gather(
            *(
                store.reserve_attempt(challenge, limit, NOW)
                for store in (first, second)
                for _ in range(8)
            )
        )
    finally:
        await other_engine.dispose()

    assert results.count(True) == 1
    refusals = [result for result in results if isinstance(result, Refusal)]
    assert len(refusals) == 15
    assert {refusal.reason for refusal in refusals} == {RefusalReason.FAILURES}
    found = await find_challenge(first, challenge.token_hash)
    assert found is not None
    assert found.attempts == 1


async def test_transactions_that_read_then_write_wait_for_each_other(
    engine: AsyncEngine, store: SqlStore, new_challenge: NewChallenge
) -> None:
    """On SQLite a deferred transaction would fail here with "database is locked"."""
    challenge = await add(store, new_challenge)
    attempts = OtpChallengeRow.attempts
    by_id = OtpChallengeRow.id == challenge.id

    async def increment() -> None:
        async with engine.begin() as connection:
            # FOR UPDATE locks the row on PostgreSQL; SQLite has the whole database locked.
            read = select(attempts).where(by_id).with_for_update()
            current = (await connection.execute(read)).scalar_one()
            await asyncio.sleep(0)
            await connection.execute(
                update(OtpChallengeRow).where(by_id).values(attempts=current + 1)
            )

    await asyncio.gather(*(increment() for _ in range(CALLERS)))

    found = await find_challenge(store, challenge.token_hash)
    assert found is not None
    assert found.attempts == CALLERS


SENDS = 10


async def test_concurrent_sends_to_one_address_pass_the_interval_once(
    engine: AsyncEngine, store: SqlStore, new_challenge: NewChallenge
) -> None:
    send_limits = limits(interval=timedelta(seconds=30))

    results = await asyncio.gather(
        *(store.add_challenge(at(new_challenge, NOW), send_limits) for _ in range(SENDS))
    )

    ids = [result for result in results if isinstance(result, int)]
    assert len(ids) == 1
    refusals = [result for result in results if isinstance(result, Refusal)]
    assert refusals == [Refusal(reason=RefusalReason.INTERVAL, retry_after=30)] * (SENDS - 1)
    assert await _stored(engine) == 1


async def test_concurrent_sends_of_one_application_stay_within_its_quota(
    engine: AsyncEngine, store: SqlStore, new_challenge: NewChallenge
) -> None:
    send_limits = limits(app_daily_quota=3, interval=timedelta(seconds=30))

    results = await asyncio.gather(
        *(
            store.add_challenge(at(new_challenge, NOW, identifier=f"user{n}@x.org"), send_limits)
            for n in range(SENDS)
        )
    )

    assert len([result for result in results if isinstance(result, int)]) == 3
    refusals = [result for result in results if isinstance(result, Refusal)]
    assert refusals == [Refusal(reason=RefusalReason.APP_QUOTA, retry_after=24 * 3600)] * (
        SENDS - 3
    )
    assert await _stored(engine) == 3


async def test_concurrent_sends_of_several_applications_to_several_addresses(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    """Sends that share an application or an address, in every combination, take their locks
    in an order that cannot deadlock, and every limit holds."""
    send_limits = limits(app_daily_quota=2, interval=timedelta(seconds=30))
    sends = [
        at(new_challenge, NOW, client_id=f"app-{app}", identifier=f"user{user}@x.org")
        for app in range(4)
        for user in range(4)
        for _ in range(2)
    ]

    results = await asyncio.gather(*(store.add_challenge(send, send_limits) for send in sends))

    stored = [send for send, result in zip(sends, results, strict=True) if isinstance(result, int)]
    per_app = Counter(send.client_id for send in stored)
    per_user = Counter(send.identifier for send in stored)
    assert max(per_app.values()) <= 2
    assert max(per_user.values()) == 1
    assert len(stored) == 4  # every address gets one code, and no app sends more than two


async def _stored(engine: AsyncEngine) -> int:
    """The number of challenges stored."""
    async with engine.connect() as connection:
        count = select(func.count()).select_from(OtpChallengeRow)
        return (await connection.execute(count)).scalar_one()
