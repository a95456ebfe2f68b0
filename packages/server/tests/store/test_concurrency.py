"""Concurrent callers, each on a connection of its own."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ciam_server.domain.models import Challenge, Channel, NewChallenge, User
from ciam_server.store import SqlStore
from ciam_server.store.tables import OtpChallengeRow

CALLERS = 20


async def _add(store: SqlStore, challenge: NewChallenge) -> Challenge:
    await store.add_challenge(challenge)
    stored = await store.find_challenge(challenge.token_hash)
    assert stored is not None
    return stored


async def test_only_one_of_many_concurrent_resets_wins(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    challenge = await _add(store, new_challenge)

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
    challenge = await _add(store, new_challenge)

    results = await asyncio.gather(
        *(store.reserve_attempt(challenge.id, 5) for _ in range(CALLERS))
    )

    assert results.count(True) == 5
    found = await store.find_challenge(challenge.token_hash)
    assert found is not None
    assert found.attempts == 5


async def test_transactions_that_read_then_write_wait_for_each_other(
    engine: AsyncEngine, store: SqlStore, new_challenge: NewChallenge
) -> None:
    """On SQLite a deferred transaction would fail here with "database is locked"."""
    challenge = await _add(store, new_challenge)
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

    found = await store.find_challenge(challenge.token_hash)
    assert found is not None
    assert found.attempts == CALLERS
