"""argon2id hashing of passwords, run in a bounded thread pool, never on the event loop.

One argon2 call costs about 100 ms of CPU and, with the default parameters, 64 MiB of memory;
the pool's size bounds both. argon2-cffi releases the GIL while hashing, so the event loop keeps
serving cheap requests while the pool works. Work waiting for a thread is bounded too: past
``queue_limit`` waiting calls, new work is refused at once (:class:`HashingBusyError`) rather than
queued behind minutes of hashing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Argon2Parameters:
    """argon2id cost parameters; the defaults are RFC 9106's second recommended option."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4


ARGON2_NICENESS_INCREMENT = 10
MAX_NICENESS = 19


def _yield_to_the_event_loop() -> None:
    """Lower the priority of an argon2 thread (and of the lane threads argon2 starts from it),
    so that when resets saturate the CPU the event loop still answers cheap requests promptly.

    Linux gives threads their own niceness; elsewhere this does nothing.
    """
    if sys.platform == "linux":
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + ARGON2_NICENESS_INCREMENT
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness, MAX_NICENESS))


class HashingBusyError(Exception):
    """The pool has more work waiting than its queue limit allows."""


class Booking:
    """Room held in a :class:`PasswordHashing` pool for calls to be made later."""

    def __init__(self, hashing: PasswordHashing, calls: int) -> None:
        self._hashing = hashing
        self.calls = calls
        self._held = True

    def spend(self, calls: int) -> None:
        """Give back the room of ``calls`` calls about to be admitted on their own."""
        if not self._held or calls > self.calls:
            raise ValueError(f"{calls} calls do not fit what is left of this booking")
        self.calls -= calls
        self._hashing._release(calls)

    def release(self) -> None:
        """Give the room back (once; later calls do nothing)."""
        if self._held:
            self._held = False
            self._hashing._release(self.calls)


class PasswordHashing:
    """Hashes and verifies passwords in a pool of ``pool_size`` threads, with at most
    ``queue_limit`` calls waiting for a thread."""

    def __init__(
        self,
        parameters: Argon2Parameters,
        *,
        pool_size: int | None = None,
        queue_limit: int = 64,
    ) -> None:
        self.parameters = parameters
        self.pool_size = pool_size or os.cpu_count() or 1
        self.queue_limit = queue_limit
        self._pending = 0  # calls submitted and not finished: running plus waiting
        self._booked = 0  # room held by bookings for calls not submitted yet
        self.operations = 0
        """argon2 calls finished since start."""
        self._dummy_hash: str | None = None
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost_kib,
            parallelism=parameters.parallelism,
            type=argon2.Type.ID,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=self.pool_size,
            thread_name_prefix="argon2",
            initializer=_yield_to_the_event_loop,
        )

    @property
    def waiting(self) -> int:
        """Calls admitted and not running yet."""
        return max(0, self._pending - self.pool_size)

    def has_room(self, calls: int) -> bool:
        """Whether ``calls`` more calls would be admitted now, next to the calls admitted and
        not finished and the room booked; nothing is reserved."""
        return self._pending + self._booked + calls <= self.pool_size + self.queue_limit

    def _admit(self, calls: int) -> None:
        """Count ``calls`` calls as admitted from now on, or raise :class:`HashingBusyError`.
        Each is counted until it finishes (:meth:`_submit`), or until it is given up."""
        if not self.has_room(calls):
            raise HashingBusyError
        self._pending += calls

    def book(self, calls: int) -> Booking:
        """Hold room for ``calls`` calls to be made later, through :meth:`hash_unless_reused`,
        or raise :class:`HashingBusyError` at once. Release the booking when the work ends,
        whether or not it made the calls."""
        if not self.has_room(calls):
            raise HashingBusyError
        self._booked += calls
        return Booking(self, calls)

    def _release(self, calls: int) -> None:
        self._booked -= calls

    def _submit(self, function: Callable[..., T], *args: str) -> asyncio.Future[T]:
        """Hand an admitted call to the pool at once; it stops counting when it finishes."""
        done = asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
        done.add_done_callback(self._finished)
        return done

    def _finished(self, done: asyncio.Future[Any]) -> None:
        self._pending -= 1
        if not done.cancelled():
            self.operations += 1

    async def hash(self, password: str) -> str:
        """A new argon2id PHC string for ``password``."""
        self._admit(1)
        return await self._submit(self._hasher.hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(
        self, password_hash: str, password: str, *, booking: Booking | None = None
    ) -> bool:
        """Whether ``password`` matches ``password_hash``; with a ``booking``, the call uses its
        room and is always admitted."""
        if booking is not None:
            booking.spend(1)  # its room is taken back by the admission below, with no await
        self._admit(1)
        return await self._submit(self._verify, password_hash, password)

    async def hash_unless_reused(
        self, previous_hashes: list[str], password: str, *, booking: Booking | None = None
    ) -> str | None:
        """A new argon2id PHC string for ``password``, or None when it matches any of
        ``previous_hashes`` (then no hash is made).

        The checks run concurrently. All ``1 + len(previous_hashes)`` calls are admitted
        together or not at all, and the new hash's place is held while the checks run, so work
        that was admitted is never refused halfway, after its checks took their turn. With a
        ``booking`` for at least that many calls, they use its room and are always admitted.
        """
        calls = len(previous_hashes) + 1
        if booking is not None:
            if calls > booking.calls:
                raise ValueError(f"{calls} calls do not fit a booking of {booking.calls}")
            booking.release()  # its room is taken back by the admission below, with no await
        self._admit(calls)
        hash_place_held = True
        try:
            checks = await asyncio.gather(
                *(self._submit(self._verify, h, password) for h in previous_hashes)
            )
            if any(checks):
                return None
            hash_place_held = False
            return await self._submit(self._hasher.hash, password)
        finally:
            if hash_place_held:  # the new hash was not made
                self._pending -= 1

    async def dummy_hash(self) -> str:
        """A hash of a random password with these parameters, made in the pool at the first
        call: checking a password for an unknown user against it costs what checking a real
        one does. Made on demand, not at start, so that a server that signs nobody in never
        runs argon2 for it."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(32))
        return self._dummy_hash

    def close(self) -> None:
        """Stop the pool's threads once the work in hand is done."""
        self._pool.shutdown(wait=True)
