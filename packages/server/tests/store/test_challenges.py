"""Storing challenges, retiring older ones, and counting code checks."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta

from ciam_server.domain.models import (
    Challenge,
    Channel,
    NewChallenge,
    Refusal,
    RefusalReason,
    User,
)
from ciam_server.store import SqlStore

from .support import NO_LIMITS, NOW, add, at, attempts, find_challenge


async def test_find_challenge_returns_what_was_added(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    stored = await add(store, new_challenge)

    assert stored == Challenge(
        **asdict(new_challenge), id=stored.id, attempts=0, consumed_at=None, retired_at=None
    )


async def test_find_challenge_of_an_unknown_token_is_none(store: SqlStore) -> None:
    assert await find_challenge(store, "no-such-token-hash") is None


async def test_a_new_challenge_retires_the_live_ones_for_the_same_identifier_and_usage(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    older = await add(store, new_challenge)
    later = new_challenge.created_at + timedelta(seconds=90)

    newer = await add(store, replace(new_challenge, token_hash="token-hash-2", created_at=later))

    older_now = await find_challenge(store, older.token_hash)
    assert older_now is not None
    assert older_now.retired_at == later
    assert newer.retired_at is None


async def test_a_new_challenge_leaves_other_identifiers_usages_and_channels_alone(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    others = [
        replace(new_challenge, token_hash="other-identifier", identifier="bob@example.com"),
        replace(new_challenge, token_hash="other-usage", usage="sign_in"),
        replace(new_challenge, token_hash="other-channel", channel=Channel.SMS),
    ]
    for other in others:
        await store.add_challenge(other, NO_LIMITS)

    await store.add_challenge(new_challenge, NO_LIMITS)

    for other in others:
        found = await find_challenge(store, other.token_hash)
        assert found is not None
        assert found.retired_at is None, other.token_hash


async def test_a_consumed_challenge_is_not_retired(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    consumed = await add(store, new_challenge)
    assert await store.complete_reset(
        challenge_id=consumed.id,
        user_id=user.id,
        new_password_hash="hash-1",
        history_depth=5,
        now=new_challenge.created_at,
    )

    await store.add_challenge(replace(new_challenge, token_hash="token-hash-2"), NO_LIMITS)

    found = await find_challenge(store, consumed.token_hash)
    assert found is not None
    assert found.consumed_at is not None
    assert found.retired_at is None


async def test_reserve_attempt_counts_up_to_the_maximum(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    challenge = await add(store, new_challenge)

    results = [await store.reserve_attempt(challenge, attempts(3), NOW) for _ in range(4)]

    assert results == [True, True, True, False]
    found = await find_challenge(store, challenge.token_hash)
    assert found is not None
    assert found.attempts == 3


async def test_reserve_attempt_refuses_a_retired_challenge(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    retired = await add(store, new_challenge)
    await store.add_challenge(replace(new_challenge, token_hash="token-hash-2"), NO_LIMITS)

    assert not await store.reserve_attempt(retired, attempts(5), NOW)


async def test_reserve_attempt_refuses_a_consumed_challenge(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    challenge = await add(store, new_challenge)
    await store.complete_reset(
        challenge_id=challenge.id,
        user_id=user.id,
        new_password_hash="hash-1",
        history_depth=5,
        now=new_challenge.created_at,
    )

    assert not await store.reserve_attempt(challenge, attempts(5), NOW)


async def test_reserve_attempt_on_an_unknown_challenge_is_false(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    challenge = await add(store, new_challenge)

    assert not await store.reserve_attempt(replace(challenge, id=12345), attempts(5), NOW)


async def test_release_attempt_gives_an_attempt_back_but_never_below_zero(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    challenge = await add(store, new_challenge)
    assert await store.reserve_attempt(challenge, attempts(1), NOW)
    assert not await store.reserve_attempt(challenge, attempts(1), NOW)

    await store.release_attempt(challenge.id)
    await store.release_attempt(challenge.id)

    found = await find_challenge(store, challenge.token_hash)
    assert found is not None
    assert found.attempts == 0
    assert await store.reserve_attempt(challenge, attempts(1), NOW)


async def test_retire_challenge_makes_it_unusable(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    challenge = await add(store, new_challenge)

    await store.retire_challenge(challenge.id, NOW)

    assert not await store.reserve_attempt(challenge, attempts(5), NOW)
    found = await find_challenge(store, challenge.token_hash)
    assert found is not None
    assert found.retired_at is not None
    assert found.consumed_at is None


async def test_retire_challenge_keeps_the_first_retirement_and_leaves_others_alone(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    retired = await add(store, new_challenge)
    other = await add(store, replace(new_challenge, token_hash="other", identifier="b@x.org"))
    await store.add_challenge(replace(new_challenge, token_hash="token-hash-2"), NO_LIMITS)

    await store.retire_challenge(retired.id, NOW)
    await store.retire_challenge(12345, NOW)  # unknown: nothing happens

    found = await find_challenge(store, retired.token_hash)
    assert found is not None
    assert found.retired_at == new_challenge.created_at
    assert await find_challenge(store, other.token_hash) == other


async def test_retire_challenge_leaves_a_consumed_challenge_consumed(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    challenge = await add(store, new_challenge)
    assert await store.complete_reset(
        challenge_id=challenge.id,
        user_id=user.id,
        new_password_hash="hash-1",
        history_depth=5,
        now=NOW,
    )

    await store.retire_challenge(challenge.id, NOW)

    found = await find_challenge(store, challenge.token_hash)
    assert found is not None
    assert found.consumed_at == NOW
    assert found.retired_at is None


async def test_reserve_attempt_counts_the_address_failures_within_the_window(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    async def with_attempts(minutes: int, count: int, **changes: object) -> Challenge:
        stored = await add(store, at(new_challenge, NOW - timedelta(minutes=minutes), **changes))
        for _ in range(count):
            assert await store.reserve_attempt(stored, attempts(100), NOW)
        return stored

    await with_attempts(61, 7)  # out of the window
    await with_attempts(50, 2, client_id="other-app")  # every application counts
    await with_attempts(30, 1, usage="sign_in")  # every usage counts
    await with_attempts(5, 4, identifier="b@x.org")  # another address does not
    await with_attempts(5, 4, channel=Channel.SMS)  # nor another channel
    checked = await with_attempts(10, 3)
    limited = attempts(5, failure_limit=7, failure_window=timedelta(hours=1))

    assert await store.reserve_attempt(checked, limited, NOW)  # 6 counted: a 7th may be
    refusal = await store.reserve_attempt(checked, limited, NOW)

    # 7 counted; the 2 of 50 minutes ago leave the window in 10 minutes, bringing it to 5.
    assert refusal == Refusal(reason=RefusalReason.FAILURES, retry_after=600)
    found = await find_challenge(store, checked.token_hash)
    assert found is not None
    assert found.attempts == 4  # the refused check counted nothing


async def test_reserve_attempt_ignores_the_address_failures_when_the_limit_is_off(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    challenge = await add(store, new_challenge)
    for _ in range(3):
        assert await store.reserve_attempt(challenge, attempts(5), NOW)

    assert await store.reserve_attempt(
        challenge, attempts(5, failure_limit=0, failure_window=timedelta(hours=1)), NOW
    )
