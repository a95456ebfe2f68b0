"""The sign-in repositories on each engine: failed sign-ins and locks, refresh token rotation
and revocation, signing keys, and the password change."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from ciam_server.domain.models import NewRefreshToken, SignInAttempt, SigningKey, SignInLimits, User
from ciam_server.store import SqlStore

from .support import NOW

LIMITS = SignInLimits(
    max_failures=3, failure_window=timedelta(minutes=15), lock_duration=timedelta(minutes=10)
)
NAME = "email:ada@example.com"


async def test_the_attempt_that_reaches_the_limit_locks_the_username(store: SqlStore) -> None:
    counted = [await store.count_sign_in_attempt(NAME, LIMITS, NOW) for _ in range(4)]

    assert counted == [
        SignInAttempt.COUNTED,
        SignInAttempt.COUNTED,
        SignInAttempt.LOCKING,
        SignInAttempt.LOCKED,
    ]
    assert await store.sign_in_locked([NAME, "sms:+1"], NOW)
    assert not await store.sign_in_locked(["sms:+1"], NOW)


async def test_a_lock_ends_after_its_duration_and_counting_starts_again(store: SqlStore) -> None:
    for _ in range(3):
        await store.count_sign_in_attempt(NAME, LIMITS, NOW)
    later = NOW + LIMITS.lock_duration

    assert not await store.sign_in_locked([NAME], later)
    assert await store.count_sign_in_attempt(NAME, LIMITS, later) is SignInAttempt.COUNTED
    assert await store.count_sign_in_attempt(NAME, LIMITS, later) is SignInAttempt.COUNTED


async def test_failures_older_than_the_window_are_forgotten(store: SqlStore) -> None:
    for _ in range(2):
        await store.count_sign_in_attempt(NAME, LIMITS, NOW)

    later = NOW + LIMITS.failure_window
    assert await store.count_sign_in_attempt(NAME, LIMITS, later) is SignInAttempt.COUNTED


async def test_concurrent_attempts_never_pass_the_limit(store: SqlStore) -> None:
    counted = await asyncio.gather(
        *(store.count_sign_in_attempt(NAME, LIMITS, NOW) for _ in range(8))
    )

    assert sorted(counted) == sorted(
        [SignInAttempt.COUNTED] * 2 + [SignInAttempt.LOCKING] + [SignInAttempt.LOCKED] * 5
    )


async def test_clearing_unlocks(store: SqlStore) -> None:
    for _ in range(3):
        await store.count_sign_in_attempt(NAME, LIMITS, NOW)

    await store.clear_sign_in_failures([NAME])

    assert not await store.sign_in_locked([NAME], NOW)


def refresh_token(user: User, token_hash: str, family: str = "f1") -> NewRefreshToken:
    return NewRefreshToken(
        token_hash=token_hash,
        family=family,
        user_id=user.id,
        client_id="web-app",
        scope="openid",
        credential_version=user.credential_version,
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
    )


async def test_a_refresh_token_rotates_once(store: SqlStore, user: User) -> None:
    await store.add_refresh_token(refresh_token(user, "h1"))
    first = await store.find_refresh_token("h1")
    assert first is not None

    rotations = await asyncio.gather(
        store.rotate_refresh_token(first.id, refresh_token(user, "h2"), NOW),
        store.rotate_refresh_token(first.id, refresh_token(user, "h3"), NOW),
    )

    assert sorted(rotations) == [False, True]
    rotated = await store.find_refresh_token("h1")
    assert rotated is not None
    assert rotated.rotated_at == NOW


async def test_revoking_a_family_revokes_each_of_its_tokens_alone(
    store: SqlStore, user: User
) -> None:
    for token_hash, family in (("h1", "f1"), ("h2", "f1"), ("h3", "f2")):
        await store.add_refresh_token(refresh_token(user, token_hash, family))

    await store.revoke_refresh_family("f1", NOW)

    found = [await store.find_refresh_token(h) for h in ("h1", "h2", "h3")]
    assert [None if t is None else t.revoked_at for t in found] == [NOW, NOW, None]


async def test_signing_keys_keep_their_generations_unique(store: SqlStore) -> None:
    key = SigningKey(
        generation=1, kid="k1", public_jwk="{}", sealed_private_jwk=b"sealed", created_at=NOW
    )

    assert await store.add_signing_key(key)
    assert not await store.add_signing_key(replace(key, kid="k2"))
    assert await store.add_signing_key(replace(key, generation=2, kid="k2"))
    assert [k.kid for k in await store.signing_keys()] == ["k2", "k1"]


async def test_a_change_of_password_needs_the_current_credential_version(
    store: SqlStore, user: User
) -> None:
    await store.count_sign_in_attempt(NAME, LIMITS, NOW)

    stale = await store.change_password(
        user_id=user.id,
        credential_version=user.credential_version + 1,
        new_password_hash="hash-1",
        history_depth=3,
        unlock=[NAME],
        now=NOW,
    )
    changed = await store.change_password(
        user_id=user.id,
        credential_version=user.credential_version,
        new_password_hash="hash-1",
        history_depth=3,
        unlock=[NAME],
        now=NOW,
    )

    assert (stale, changed) == (False, True)
    after = await store.get_user(user.id)
    assert after is not None
    assert (after.password_hash, after.credential_version) == ("hash-1", 1)
    assert await store.recent_password_hashes(user.id, 3) == ["hash-1", "hash-0"]
    assert await store.count_sign_in_attempt(NAME, LIMITS, NOW) is SignInAttempt.COUNTED
