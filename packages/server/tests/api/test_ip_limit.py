"""The per-address request limit, in this process's memory and in a real Redis.

The ``limits`` library times its windows by ``time.time`` (on the server, for Redis too), so the
tests move that clock. Its steps are binary fractions, which floats add up exactly."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import cast

import pytest
from limits.aio.storage import RedisStorage
from litestar.exceptions import TooManyRequestsException
from litestar.types import Scope
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tests.ci import unavailable

from ciam_server.api.ip_limit import IpRateLimit

REDIS_URL = os.environ.get("CIAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMIT = 3


class Clock:
    """Seconds since the epoch that move only when a test moves them."""

    def __init__(self) -> None:
        self.now = 1_000_000.25

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    return clock


async def _require_redis() -> None:
    probe: Redis = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await probe.ping()
    except (RedisError, OSError) as error:
        unavailable(f"Redis at {REDIS_URL} is unreachable ({error!r}); set CIAM_TEST_REDIS_URL")
    finally:
        await probe.aclose()


@pytest.fixture(params=["memory", "redis"])
async def redis_url(request: pytest.FixtureRequest) -> str | None:
    """Where the limit keeps its windows: None for this process's memory."""
    if request.param == "memory":
        return None
    await _require_redis()
    return REDIS_URL


@pytest.fixture
async def ip_limit(redis_url: str | None) -> AsyncIterator[IpRateLimit]:
    limit = IpRateLimit(LIMIT, redis_url)
    yield limit
    await limit.aclose()


def _redis_key(ip_limit: IpRateLimit, address: str) -> str:
    return f"{RedisStorage.PREFIX}:{ip_limit.item.key_for(address)}"


@pytest.fixture
async def address(ip_limit: IpRateLimit, redis_url: str | None) -> AsyncIterator[str]:
    """An address no other test or run uses; its window in Redis is deleted afterwards."""
    address = f"test-{uuid.uuid4().hex}"
    yield address
    if redis_url is not None:
        redis: Redis = Redis.from_url(redis_url)
        try:
            await redis.delete(*(_redis_key(ip_limit, a) for a in (address, f"{address}-2")))
        finally:
            await redis.aclose()


def _scope(address: str) -> Scope:
    return cast(Scope, {"client": (address, 50000)})


async def wait_told(ip_limit: IpRateLimit, address: str) -> int | None:
    """None when a request from ``address`` is admitted, else the seconds it is told to wait."""
    try:
        await ip_limit.admit(_scope(address))
    except TooManyRequestsException as refused:
        headers = refused.headers or {}
        assert headers["RateLimit-Limit"] == str(LIMIT)
        assert headers["RateLimit-Remaining"] == "0"
        return int(headers["RateLimit-Reset"])
    return None


async def test_the_limit_admits_its_number_then_tells_when_a_place_frees(
    ip_limit: IpRateLimit, address: str, clock: Clock
) -> None:
    start = clock.now
    for _ in range(LIMIT):
        assert await wait_told(ip_limit, address) is None
        clock.now += 10.5
    # Admitted at start, +10.5 and +21; the first leaves the window at +60, 28.5 s from now.
    assert await wait_told(ip_limit, address) == 29
    assert await wait_told(ip_limit, f"{address}-2") is None, "another address has its own"
    clock.now = start + 60.25
    assert await wait_told(ip_limit, address) is None
    assert await wait_told(ip_limit, address) == 11  # the second leaves at +70.5


async def test_a_caller_that_waits_as_told_gets_in(
    ip_limit: IpRateLimit, address: str, clock: Clock
) -> None:
    """Also when the oldest request is a whole number of seconds from leaving the window: the
    window still holds a request exactly a minute old."""
    for _ in range(LIMIT):
        await wait_told(ip_limit, address)
    clock.now += 30
    wait = await wait_told(ip_limit, address)
    assert wait is not None
    assert wait <= 31
    clock.now += wait
    assert await wait_told(ip_limit, address) is None


async def test_a_burst_around_a_minute_boundary_gets_no_more_than_the_limit(
    ip_limit: IpRateLimit, address: str, clock: Clock
) -> None:
    """Counts in fixed windows would start again at the minute and let a second burst in."""
    clock.now = 60 * 30_000 - 0.5  # half a second before a minute begins
    admitted = 0
    for _ in range(4 * LIMIT):
        admitted += await wait_told(ip_limit, address) is None
        clock.now += 0.125
    assert admitted == LIMIT


async def test_refused_requests_do_not_push_the_wait_back(
    ip_limit: IpRateLimit, address: str, clock: Clock
) -> None:
    start = clock.now
    for _ in range(LIMIT):
        await wait_told(ip_limit, address)
    for _ in range(30):
        clock.now += 1.5
        wait = await wait_told(ip_limit, address)
        assert wait is not None
        assert start + 60 < clock.now + wait <= start + 61
    clock.now = start + 60.25
    assert await wait_told(ip_limit, address) is None


async def test_concurrent_requests_never_pass_the_limit(
    ip_limit: IpRateLimit, redis_url: str | None, address: str
) -> None:
    """40 at once; with Redis, spread over two connection pools, as over two instances."""
    limits = [ip_limit] if redis_url is None else [ip_limit, IpRateLimit(LIMIT, redis_url)]
    try:
        outcomes = await asyncio.gather(
            *(limits[n % len(limits)].admit(_scope(address)) for n in range(40)),
            return_exceptions=True,
        )
    finally:
        for limit in limits[1:]:
            await limit.aclose()
    refused = [outcome for outcome in outcomes if outcome is not None]
    assert all(isinstance(outcome, TooManyRequestsException) for outcome in refused), refused
    assert len(outcomes) - len(refused) == LIMIT


@pytest.mark.usefixtures("clock")
async def test_the_wait_told_is_at_most_a_minute(ip_limit: IpRateLimit, address: str) -> None:
    """Even when the clock has not moved since the oldest request was admitted (a coarse one)."""
    for _ in range(LIMIT):
        await wait_told(ip_limit, address)
    assert await wait_told(ip_limit, address) == 60


async def test_the_window_in_redis_expires_a_minute_after_its_last_request() -> None:
    await _require_redis()
    address = f"test-{uuid.uuid4().hex}"
    ip_limit = IpRateLimit(LIMIT, REDIS_URL)
    redis: Redis = Redis.from_url(REDIS_URL)
    try:
        await ip_limit.admit(_scope(address))
        assert 0 < await redis.pttl(_redis_key(ip_limit, address)) <= 60_000
    finally:
        await redis.delete(_redis_key(ip_limit, address))
        await redis.aclose()
        await ip_limit.aclose()
