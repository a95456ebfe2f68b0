"""argon2id hashing of passwords, in a thread pool of its own."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import argon2
import pytest

from ciam_server.domain.passwords import Argon2Parameters, HashingBusyError, PasswordHashing

PARAMETERS = Argon2Parameters(time_cost=1, memory_cost_kib=8, parallelism=1)


@pytest.fixture
def hashing() -> Iterator[PasswordHashing]:
    hashing = PasswordHashing(PARAMETERS, pool_size=2)
    yield hashing
    hashing.close()


@pytest.fixture
def argon2_threads(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """The threads that argon2 hashed or verified in."""
    threads: list[threading.Thread] = []
    original_hash = argon2.PasswordHasher.hash
    original_verify = argon2.PasswordHasher.verify

    def recording_hash(self: argon2.PasswordHasher, password: str | bytes, **kwargs: bytes) -> str:
        threads.append(threading.current_thread())
        return original_hash(self, password, **kwargs)

    def recording_verify(
        self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes
    ) -> bool:
        threads.append(threading.current_thread())
        return original_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "hash", recording_hash)
    monkeypatch.setattr(argon2.PasswordHasher, "verify", recording_verify)
    return threads


async def test_a_hash_verifies_its_password(hashing: PasswordHashing) -> None:
    password_hash = await hashing.hash("violet kettle marmalade 42")

    assert await hashing.verify(password_hash, "violet kettle marmalade 42")


async def test_a_hash_does_not_verify_another_password(hashing: PasswordHashing) -> None:
    password_hash = await hashing.hash("violet kettle marmalade 42")

    assert not await hashing.verify(password_hash, "violet kettle marmalade 43")


async def test_a_hash_is_salted(hashing: PasswordHashing) -> None:
    assert await hashing.hash("same password") != await hashing.hash("same password")


async def test_a_malformed_hash_verifies_nothing(hashing: PasswordHashing) -> None:
    assert not await hashing.verify("not a PHC string", "violet kettle marmalade 42")


async def test_the_hash_is_an_argon2id_phc_string_with_the_given_parameters(
    hashing: PasswordHashing,
) -> None:
    password_hash = await hashing.hash("violet kettle marmalade 42")

    assert password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert argon2.extract_parameters(password_hash) == argon2.Parameters(
        type=argon2.Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=1,
        memory_cost=8,
        parallelism=1,
    )


async def test_other_parameters_give_another_phc_string() -> None:
    hashing = PasswordHashing(Argon2Parameters(time_cost=2, memory_cost_kib=16, parallelism=2))
    try:
        password_hash = await hashing.hash("violet kettle marmalade 42")
    finally:
        hashing.close()

    assert password_hash.startswith("$argon2id$v=19$m=16,t=2,p=2$")


async def test_a_password_in_the_history_gets_no_new_hash(hashing: PasswordHashing) -> None:
    hashes = [await hashing.hash(password) for password in ("first one", "second one", "third")]
    made = hashing.operations

    assert await hashing.hash_unless_reused(hashes, "second one") is None
    assert await hashing.hash_unless_reused(hashes, "third") is None
    assert hashing.operations == made + 6  # three checks each, and no hash


async def test_a_new_password_gets_its_hash_after_the_checks(hashing: PasswordHashing) -> None:
    hashes = [await hashing.hash(password) for password in ("first one", "second one")]

    new_hash = await hashing.hash_unless_reused(hashes, "a new one")

    assert new_hash is not None
    assert await hashing.verify(new_hash, "a new one")


async def test_an_empty_history_only_hashes(hashing: PasswordHashing) -> None:
    made = hashing.operations
    new_hash = await hashing.hash_unless_reused([], "anything")

    assert new_hash is not None
    assert hashing.operations == made + 1


async def test_hashing_runs_in_the_argon2_pool_not_on_the_event_loop(
    hashing: PasswordHashing, argon2_threads: list[threading.Thread]
) -> None:
    await hashing.hash("violet kettle marmalade 42")

    (thread,) = argon2_threads
    assert thread is not threading.current_thread()
    assert thread.name.startswith("argon2")


async def test_verifying_runs_in_the_argon2_pool_not_on_the_event_loop(
    hashing: PasswordHashing, argon2_threads: list[threading.Thread]
) -> None:
    password_hash = await hashing.hash("violet kettle marmalade 42")
    await hashing.hash_unless_reused([password_hash, password_hash], "violet kettle marmalade 42")

    assert len(argon2_threads) == 3
    assert all(thread is not threading.current_thread() for thread in argon2_threads)
    assert all(thread.name.startswith("argon2") for thread in argon2_threads)


def test_the_pool_size_defaults_to_the_cpu_count() -> None:
    hashing = PasswordHashing(PARAMETERS)
    try:
        assert hashing.pool_size == (os.cpu_count() or 1)
    finally:
        hashing.close()


async def test_close_stops_the_pool(argon2_threads: list[threading.Thread]) -> None:
    hashing = PasswordHashing(PARAMETERS, pool_size=1)
    await hashing.hash("violet kettle marmalade 42")

    hashing.close()

    (thread,) = argon2_threads
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="shutdown"):
        await hashing.hash("violet kettle marmalade 42")


@contextmanager
def verifications_held(hashing: PasswordHashing) -> Iterator[threading.Event]:
    """Every verification waits, holding its pool thread, until the event yielded is set; the
    pool is closed on the way out."""
    release = threading.Event()
    verify = PasswordHashing._verify

    def held_verify(self: PasswordHashing, password_hash: str, password: str) -> bool:
        release.wait(timeout=10)
        return verify(self, password_hash, password)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(PasswordHashing, "_verify", held_verify)
            yield release
    finally:
        release.set()
        hashing.close()


@pytest.fixture
def small_pool() -> Iterator[PasswordHashing]:
    """One thread and two waiting calls: room for 3 calls."""
    hashing = PasswordHashing(PARAMETERS, pool_size=1, queue_limit=2)
    yield hashing
    hashing.close()


async def test_work_past_the_queue_limit_is_refused_at_once() -> None:
    # One thread, one waiting call allowed: a third call finds the pool full.
    hashing = PasswordHashing(PARAMETERS, pool_size=1, queue_limit=1)
    with verifications_held(hashing) as release:
        running = asyncio.ensure_future(hashing.verify("x", "y"))
        waiting = asyncio.ensure_future(hashing.verify("x", "y"))
        await asyncio.sleep(0.05)
        assert hashing.waiting == 1
        with pytest.raises(HashingBusyError):
            await hashing.hash("z")
        with pytest.raises(HashingBusyError):
            await hashing.hash_unless_reused([], "y")
        release.set()
        assert list(await asyncio.gather(running, waiting)) == [False, False]
        assert await hashing.hash_unless_reused([await hashing.hash("z")], "z") is None  # room


async def test_a_reset_s_calls_are_admitted_whole_or_not_at_all(
    small_pool: PasswordHashing,
) -> None:
    with pytest.raises(HashingBusyError):
        await small_pool.hash_unless_reused(["a", "b", "c"], "y")  # 3 checks + 1 hash > 1 + 2
    assert small_pool.waiting == 0
    assert small_pool.operations == 0


async def test_the_new_hash_keeps_its_place_while_the_checks_run() -> None:
    # One thread, two waiting calls: a reset with two checks takes all the room, its hash's
    # place included, so other work is refused while its checks run and its hash never is.
    hashing = PasswordHashing(PARAMETERS, pool_size=1, queue_limit=2)
    with verifications_held(hashing) as release:
        reset = asyncio.ensure_future(hashing.hash_unless_reused(["x", "y"], "new one"))
        await asyncio.sleep(0.05)
        assert not hashing.has_room(1)
        with pytest.raises(HashingBusyError):
            await hashing.hash("other work")
        release.set()
        new_hash = await reset
        assert new_hash is not None
        assert hashing.operations == 3


@pytest.mark.skipif(sys.platform != "linux", reason="threads have their own niceness on Linux")
async def test_argon2_threads_run_at_a_lower_priority_than_the_event_loop(
    hashing: PasswordHashing,
) -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    loop_niceness = niceness()
    pool_niceness = await asyncio.get_running_loop().run_in_executor(hashing._pool, niceness)

    assert pool_niceness == min(19, loop_niceness + 10)


async def test_has_room_tells_whether_calls_would_be_admitted_without_reserving_them(
    small_pool: PasswordHashing,
) -> None:
    assert small_pool.has_room(3)  # one running and two waiting
    assert not small_pool.has_room(4)
    assert small_pool.has_room(3)  # asking reserved nothing
    await small_pool.hash_unless_reused(["a", "b"], "y")  # 2 checks and 1 hash are admitted
    with pytest.raises(HashingBusyError):
        await small_pool.hash_unless_reused(["a", "b", "c"], "y")


async def test_a_booking_holds_room_that_only_its_own_calls_take(
    small_pool: PasswordHashing,
) -> None:
    booking = small_pool.book(3)
    assert not small_pool.has_room(1)
    with pytest.raises(HashingBusyError):
        small_pool.book(1)
    with pytest.raises(HashingBusyError):
        await small_pool.hash("unbooked work")

    new_hash = await small_pool.hash_unless_reused(["a", "b"], "y", booking=booking)

    assert new_hash is not None
    assert small_pool.operations == 3
    assert small_pool.has_room(3)  # the calls are done and the booking is spent
    booking.release()  # a second release changes nothing
    assert small_pool.has_room(3)
    assert not small_pool.has_room(4)


async def test_a_released_booking_gives_its_room_back(
    small_pool: PasswordHashing,
) -> None:
    booking = small_pool.book(2)
    assert not small_pool.has_room(2)
    booking.release()
    assert small_pool.has_room(3)


async def test_verifications_with_a_booking_use_its_room(small_pool: PasswordHashing) -> None:
    password_hash = await small_pool.hash("right")
    booking = small_pool.book(3)
    with pytest.raises(HashingBusyError):
        await small_pool.verify(password_hash, "unbooked")

    checks = [
        await small_pool.verify(password_hash, "right", booking=booking),
        await small_pool.verify(password_hash, "wrong", booking=booking),
    ]
    new_hash = await small_pool.hash_unless_reused([], "y", booking=booking)

    assert checks == [True, False]
    assert new_hash is not None
    assert small_pool.has_room(3)  # every booked call made, the booking spent


async def test_a_booking_spent_cannot_verify_again(small_pool: PasswordHashing) -> None:
    booking = small_pool.book(1)
    await small_pool.verify("not a hash", "x", booking=booking)
    with pytest.raises(ValueError, match="do not fit"):
        await small_pool.verify("not a hash", "x", booking=booking)


async def test_the_dummy_hash_is_made_once_in_the_pool(small_pool: PasswordHashing) -> None:
    first = await small_pool.dummy_hash()

    assert await small_pool.dummy_hash() == first
    assert small_pool.operations == 1
    assert not await small_pool.verify(first, "")


async def test_more_calls_than_booked_are_refused(small_pool: PasswordHashing) -> None:
    booking = small_pool.book(2)
    with pytest.raises(ValueError, match="do not fit"):
        await small_pool.hash_unless_reused(["a", "b"], "y", booking=booking)
    assert small_pool.operations == 0


async def test_admitted_calls_count_from_their_admission_not_from_their_start(
    small_pool: PasswordHashing,
) -> None:
    reset = asyncio.ensure_future(small_pool.hash_unless_reused(["a", "b"], "y"))
    await asyncio.sleep(0)  # admitted: its checks are handed to the pool, not all started
    assert not small_pool.has_room(1)
    with pytest.raises(HashingBusyError):
        await small_pool.hash("squeezed in")
    assert await reset is not None
    assert small_pool.has_room(3)  # every call done, every place given back
