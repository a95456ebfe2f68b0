"""argon2id hashing of passwords, run in a bounded thread pool, never on the event loop.

One argon2 call costs about 100 ms of CPU and, with the default parameters, 64 MiB of memory;
the pool's size bounds both. argon2-cffi releases the GIL while hashing, so the event loop keeps
serving cheap requests while the pool works.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass(frozen=True, kw_only=True)
class Argon2Parameters:
    """argon2id cost parameters; the defaults are RFC 9106's second recommended option."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4


class PasswordHashing:
    """Hashes and verifies passwords in a pool of ``pool_size`` threads."""

    def __init__(self, parameters: Argon2Parameters, *, pool_size: int | None = None) -> None:
        self.parameters = parameters
        self.pool_size = pool_size or os.cpu_count() or 1
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost_kib,
            parallelism=parameters.parallelism,
            type=argon2.Type.ID,
        )
        self._pool = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="argon2")

    async def hash(self, password: str) -> str:
        """A new argon2id PHC string for ``password``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._verify, password_hash, password)

    async def matches_any(self, password_hashes: list[str], password: str) -> bool:
        """Whether ``password`` matches any of the hashes; the checks run concurrently."""
        results = await asyncio.gather(*(self.verify(h, password) for h in password_hashes))
        return any(results)

    def close(self) -> None:
        """Stop the pool's threads once the work in hand is done."""
        self._pool.shutdown(wait=True)
