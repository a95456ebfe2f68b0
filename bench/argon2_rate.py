"""The argon2 bound: operations per second of the server's own hashing pool, in a process of
its own.

It reads the server's settings from the same ``CIAM_*`` environment (so the same argon2
parameters, pool size and queue limit) and drives a :class:`PasswordHashing`, the class the
server hashes with, keeping the pool saturated with the mix of a reset: for each ``hash``,
``history`` ``verify`` calls. Completions inside the window after a warm-up are counted. The
summary is one JSON object on standard output.

    python -m bench.argon2_rate --history 4 --warmup 3 --window 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from itertools import count

from ciam_server.config import Settings
from ciam_server.domain.passwords import PasswordHashing


async def _run(history: int, warmup: float, window: float) -> dict[str, object]:
    settings = Settings()
    hashing = PasswordHashing(
        settings.argon2,
        pool_size=settings.argon2_pool_size,
        queue_limit=10_000,  # this process never refuses its own work
    )
    try:
        stored = await hashing.hash("an old passphrase")
        cpu_before = time.process_time()  # all threads of this process
        completions: list[float] = []
        began = time.monotonic()
        window_start = began + warmup
        stop_at = window_start + window
        serial = count()

        async def one() -> None:
            if next(serial) % (history + 1) == 0:
                await hashing.hash("a new passphrase")
            else:
                await hashing.verify(stored, "a new passphrase")
            finished = time.monotonic()
            completions.append(finished)

        async def feeder() -> None:
            # Two calls waiting per thread: the pool never idles for want of work.
            while time.monotonic() < stop_at:
                await one()

        await asyncio.gather(*(feeder() for _ in range(3 * hashing.pool_size)))
        cpu_s = time.process_time() - cpu_before
        in_window = [t for t in completions if window_start <= t <= stop_at]
        return {
            "time_cost": settings.argon2.time_cost,
            "memory_kib": settings.argon2.memory_cost_kib,
            "parallelism": settings.argon2.parallelism,
            "pool_size": hashing.pool_size,
            "operations_in_window": len(in_window),
            "window_s": window,
            "ops_per_s": len(in_window) / window,
            "ops_per_cpu_s": len(completions) / cpu_s,
        }
    finally:
        hashing.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="argon2 operations per second of the pool.")
    parser.add_argument("--history", type=int, required=True, help="verifications per hash")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=15.0)
    arguments = parser.parse_args()
    summary = asyncio.run(_run(arguments.history, arguments.warmup, arguments.window))
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
