"""Completing a password reset and the password history."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ciam_server.domain.models import Challenge, Channel, NewChallenge, User
from ciam_server.store import SqlStore

from .support import NO_LIMITS, add, find_challenge


async def _reset(
    store: SqlStore, challenge: Challenge, user: User, new_hash: str, depth: int = 5
) -> bool:
    return await store.complete_reset(
        challenge_id=challenge.id,
        user_id=user.id,
        new_password_hash=new_hash,
        history_depth=depth,
        now=challenge.created_at + timedelta(seconds=30),
    )


async def _user(store: SqlStore, user: User) -> User:
    assert user.email is not None
    found = await store.find_user(Channel.EMAIL, user.email)
    assert found is not None
    return found


async def test_complete_reset_changes_the_password_and_consumes_the_challenge(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    challenge = await add(store, new_challenge)

    assert await _reset(store, challenge, user, "hash-1")

    changed = await _user(store, user)
    assert changed.password_hash == "hash-1"
    assert changed.credential_version == user.credential_version + 1
    assert await store.recent_password_hashes(user.id, 10) == ["hash-1", "hash-0"]
    consumed = await find_challenge(store, challenge.token_hash)
    assert consumed is not None
    assert consumed.consumed_at == challenge.created_at + timedelta(seconds=30)


async def test_complete_reset_keeps_the_newest_history_entries(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    for number in range(1, 6):
        challenge = await add(store, replace(new_challenge, token_hash=f"token-{number}"))
        assert await _reset(store, challenge, user, f"hash-{number}", depth=3)

    assert await store.recent_password_hashes(user.id, 10) == ["hash-5", "hash-4", "hash-3"]
    assert (await _user(store, user)).credential_version == 5


async def test_recent_password_hashes_respects_the_limit(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    challenge = await add(store, new_challenge)
    await _reset(store, challenge, user, "hash-1")

    assert await store.recent_password_hashes(user.id, 1) == ["hash-1"]


async def test_complete_reset_of_a_consumed_challenge_changes_nothing(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    challenge = await add(store, new_challenge)
    assert await _reset(store, challenge, user, "hash-1")

    assert not await _reset(store, challenge, user, "hash-2")

    assert (await _user(store, user)).password_hash == "hash-1"
    assert (await _user(store, user)).credential_version == 1
    assert await store.recent_password_hashes(user.id, 10) == ["hash-1", "hash-0"]


async def test_complete_reset_of_a_retired_challenge_changes_nothing(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    retired = await add(store, new_challenge)
    await store.add_challenge(replace(new_challenge, token_hash="token-hash-2"), NO_LIMITS)

    assert not await _reset(store, retired, user, "hash-1")

    assert await _user(store, user) == user
    assert await store.recent_password_hashes(user.id, 10) == ["hash-0"]


async def test_complete_reset_for_a_missing_user_rolls_back(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    challenge = await add(store, new_challenge)

    with pytest.raises(LookupError):
        await _reset(store, challenge, replace(user, id=user.id + 1000), "hash-1")

    found = await find_challenge(store, challenge.token_hash)
    assert found is not None
    assert found.consumed_at is None


async def test_complete_reset_must_keep_the_new_password_in_the_history(
    store: SqlStore, new_challenge: NewChallenge, user: User
) -> None:
    challenge = await add(store, new_challenge)

    with pytest.raises(ValueError, match="history_depth"):
        await _reset(store, challenge, user, "hash-1", depth=0)
