"""The sliding log behind the per-address request limit, in memory and in a real Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tests.ci import unavailable

from ciam_server.api.ip_limit import WINDOW_SECONDS, MemoryLog, RedisLog

REDIS_URL = os.environ.get("CIAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMIT = 3


class Clock:
    """Seconds that move only when a test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_memory_log_admits_the_limit_then_tells_when_a_place_frees() -> None:
    clock = Clock()
    log = MemoryLog(clock)
    for _ in range(LIMIT):
        assert await log.take("198.18.0.1", LIMIT) == 0
        clock.now += 10
    # Admitted at 1000, 1010 and 1020; the first leaves the window at 1060.
    assert await log.take("198.18.0.1", LIMIT) == pytest.approx(1060 - clock.now)
    assert await log.take("198.18.0.2", LIMIT) == 0, "another address has places of its own"
    clock.now = 1060
    assert await log.take("198.18.0.1", LIMIT) == 0
    assert await log.take("198.18.0.1", LIMIT) == pytest.approx(10)


async def test_a_burst_around_a_minute_boundary_gets_no_more_than_the_limit() -> None:
    """Counts in fixed windows would reset at the minute and let a second burst through."""
    clock = Clock()
    clock.now = 59.5 * WINDOW_SECONDS  # half a second before a minute begins
    log = MemoryLog(clock)
    admitted = 0
    for _ in range(4 * LIMIT):
        admitted += await log.take("198.18.0.1", LIMIT) == 0
        clock.now += 0.1
    assert admitted == LIMIT


async def test_refused_requests_do_not_push_the_wait_back() -> None:
    clock = Clock()
    log = MemoryLog(clock)
    for _ in range(LIMIT):
        await log.take("198.18.0.1", LIMIT)
    for _ in range(50):
        clock.now += 1
        assert await log.take("198.18.0.1", LIMIT) > 0
    clock.now = 1000 + WINDOW_SECONDS
    assert await log.take("198.18.0.1", LIMIT) == 0


async def test_the_memory_log_forgets_addresses_that_fell_silent() -> None:
    clock = Clock()
    log = MemoryLog(clock)
    for n in range(100):
        await log.take(f"198.18.0.{n}", LIMIT)
    clock.now += WINDOW_SECONDS + 1
    await log.take("198.18.1.1", LIMIT)
    assert list(log._admitted) == ["198.18.1.1"]


# --- Redis ---------------------------------------------------------------------------------------


@pytest.fixture
async def redis_log() -> AsyncIterator[RedisLog]:
    probe: Redis = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await probe.ping()
    except (RedisError, OSError) as error:
        unavailable(f"Redis at {REDIS_URL} is unreachable ({error!r}); set CIAM_TEST_REDIS_URL")
    finally:
        await probe.aclose()
    log = RedisLog(REDIS_URL)
    yield log
    await log.aclose()


@pytest.fixture
async def address() -> AsyncIterator[str]:
    """An address no other test or run uses; its log is deleted afterwards."""
    address = f"test-{uuid.uuid4().hex}"
    yield address
    redis: Redis = Redis.from_url(REDIS_URL)
    await redis.delete(f"ciam-ip-log:{address}")
    await redis.aclose()


async def test_the_redis_log_admits_the_limit_then_tells_when_a_place_frees(
    redis_log: RedisLog, address: str
) -> None:
    for _ in range(LIMIT):
        assert await redis_log.take(address, LIMIT) == 0
    wait = await redis_log.take(address, LIMIT)
    assert WINDOW_SECONDS - 5 < wait <= WINDOW_SECONDS
    assert await redis_log.take(f"{address}-other", LIMIT) == 0
    redis: Redis = Redis.from_url(REDIS_URL)
    try:
        key = f"ciam-ip-log:{address}"
        # The refusals were not logged, and the log expires with its newest entry.
        assert await redis.zcard(key) == LIMIT
        assert 0 < await redis.pttl(key) <= WINDOW_SECONDS * 1000
        await redis.delete(f"{key}-other")
    finally:
        await redis.aclose()


async def test_concurrent_takes_in_redis_never_pass_the_limit(
    redis_log: RedisLog, address: str
) -> None:
    other = RedisLog(REDIS_URL)  # a second instance's connection pool
    try:
        waits = await asyncio.gather(
            *((redis_log, other)[n % 2].take(address, LIMIT) for n in range(40))
        )
    finally:
        await other.aclose()
    assert sum(wait == 0 for wait in waits) == LIMIT
