"""Answers recorded per client and Idempotency-Key."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ciam_server.domain.models import ClaimOutcome, IdempotencyClaim, StoredResponse
from ciam_server.store import SqlStore
from ciam_server.store.tables import IdempotencyKeyRow

from .support import NOW

TTL = timedelta(hours=24)
ENDPOINT = "POST /otp/send"
FINGERPRINT = "a1" * 32
RESPONSE = StoredResponse(status=202, body=b"\x00\xff encrypted \x80", retry_after=None)

CLAIMED = IdempotencyClaim(outcome=ClaimOutcome.CLAIMED)
IN_PROGRESS = IdempotencyClaim(outcome=ClaimOutcome.IN_PROGRESS)
MISMATCH = IdempotencyClaim(outcome=ClaimOutcome.MISMATCH)


async def _claim(
    store: SqlStore,
    key: str = "key-1",
    *,
    client_id: str = "web-app",
    endpoint: str = ENDPOINT,
    fingerprint: str = FINGERPRINT,
    now_offset: timedelta = timedelta(0),
    ttl: timedelta = TTL,
) -> IdempotencyClaim:
    now = NOW + now_offset
    return await store.claim_idempotency_key(
        client_id=client_id,
        key=key,
        endpoint=endpoint,
        fingerprint=fingerprint,
        now=now,
        expires_at=now + ttl,
    )


async def _complete(
    store: SqlStore, key: str = "key-1", response: StoredResponse = RESPONSE
) -> None:
    await store.complete_idempotency_key(client_id="web-app", key=key, response=response)


async def _records(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = select(func.count()).select_from(IdempotencyKeyRow)
        return (await connection.execute(count)).scalar_one()


async def test_a_new_key_is_claimed_then_in_progress(store: SqlStore) -> None:
    assert await _claim(store) == CLAIMED
    assert await _claim(store) == IN_PROGRESS


async def test_a_completed_key_replays_its_answer(store: SqlStore) -> None:
    await _claim(store)
    await _complete(store)

    assert await _claim(store, now_offset=timedelta(hours=1)) == IdempotencyClaim(
        outcome=ClaimOutcome.REPLAY, response=RESPONSE
    )


async def test_a_replay_keeps_retry_after_and_an_empty_body(store: SqlStore) -> None:
    response = StoredResponse(status=429, body=b"", retry_after=17)
    await _claim(store)
    await _complete(store, response=response)

    claim = await _claim(store)

    assert claim == IdempotencyClaim(outcome=ClaimOutcome.REPLAY, response=response)


@pytest.mark.parametrize("completed", [False, True])
@pytest.mark.parametrize(
    ("endpoint", "fingerprint"),
    [("POST /users/reset-password", FINGERPRINT), (ENDPOINT, "b2" * 32)],
    ids=["other-endpoint", "other-fingerprint"],
)
async def test_the_key_with_another_request_is_a_mismatch(
    store: SqlStore, completed: bool, endpoint: str, fingerprint: str
) -> None:
    await _claim(store)
    if completed:
        await _complete(store)

    assert await _claim(store, endpoint=endpoint, fingerprint=fingerprint) == MISMATCH


async def test_keys_are_per_client(store: SqlStore) -> None:
    await _claim(store)

    assert await _claim(store, client_id="other-app", fingerprint="c3" * 32) == CLAIMED
    assert await _claim(store, "key-2") == CLAIMED


async def test_an_expired_record_is_replaced(store: SqlStore) -> None:
    await _claim(store)
    await _complete(store)

    # At its expiry the record is gone: the key is claimed anew, even for another request.
    assert await _claim(store, fingerprint="d4" * 32, now_offset=TTL) == CLAIMED
    assert await _claim(store, fingerprint="d4" * 32, now_offset=TTL) == IN_PROGRESS
    assert await _claim(store, now_offset=TTL) == MISMATCH


async def test_an_expired_claim_in_progress_is_replaced(store: SqlStore) -> None:
    await _claim(store)

    just_before = TTL - timedelta(microseconds=1)
    assert await _claim(store, now_offset=just_before) == IN_PROGRESS
    assert await _claim(store, now_offset=TTL) == CLAIMED


async def test_a_released_key_can_be_claimed_again(store: SqlStore) -> None:
    await _claim(store)

    await store.release_idempotency_key(client_id="web-app", key="key-1")

    assert await _claim(store, fingerprint="e5" * 32) == CLAIMED


async def test_release_leaves_a_completed_answer(store: SqlStore) -> None:
    await _claim(store)
    await _complete(store)

    await store.release_idempotency_key(client_id="web-app", key="key-1")
    await store.release_idempotency_key(client_id="web-app", key="unknown")

    assert (await _claim(store)).outcome is ClaimOutcome.REPLAY


async def test_complete_without_a_claim_records_nothing(
    engine: AsyncEngine, store: SqlStore
) -> None:
    await _complete(store, key="never-claimed")

    assert await _records(engine) == 0


async def test_a_claim_must_expire_after_now(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="expire"):
        await _claim(store, ttl=timedelta(0))


async def test_concurrent_claims_of_a_new_key_claim_it_once(store: SqlStore) -> None:
    claims = await asyncio.gather(*(_claim(store) for _ in range(10)))

    assert claims.count(CLAIMED) == 1
    assert claims.count(IN_PROGRESS) == 9


async def test_concurrent_claims_of_an_expired_key_claim_it_once(store: SqlStore) -> None:
    await _claim(store)
    await _complete(store)

    claims = await asyncio.gather(*(_claim(store, now_offset=TTL) for _ in range(10)))

    assert claims.count(CLAIMED) == 1
    assert claims.count(IN_PROGRESS) == 9


async def test_concurrent_claims_of_many_keys_with_expired_records_about(
    engine: AsyncEngine, store: SqlStore
) -> None:
    """Concurrent claims replace each expired record once: each key is claimed once."""
    keys = [f"key-{n}" for n in range(20)]
    for key in keys:
        await _claim(store, key, ttl=timedelta(minutes=1))

    later = timedelta(hours=1)
    claims = await asyncio.gather(
        *(_claim(store, key, now_offset=later) for key in keys for _ in range(2))
    )

    assert claims.count(CLAIMED) == len(keys)
    assert claims.count(IN_PROGRESS) == len(keys)
    assert await _records(engine) == len(keys)
