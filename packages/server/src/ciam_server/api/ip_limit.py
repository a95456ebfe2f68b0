"""The per-address request limit on the API endpoints: at most ``CIAM_IP_RATE_LIMIT`` requests
admitted from one address in any 60 seconds.

The limit keeps a sliding log of the times at which each address's requests were admitted. A
request is admitted while fewer than the limit were admitted in the last 60 seconds; a refused
one is told when the oldest of those leaves the window, and is not logged, so a caller that
waits as told gets in and one that keeps retrying gains nothing. Unlike counts in fixed
one-minute windows, no burst straddling two windows gets twice the limit through. The log holds
at most one entry per request the server admitted in the last minute.

It lives in this process's memory by default, or in Redis (``CIAM_REDIS_URL``) so that every
instance and worker shares it. The address is the peer's, or the one a trusted proxy forwarded
(see ``serve``).
"""

from __future__ import annotations

import math
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Protocol

from litestar.exceptions import TooManyRequestsException
from litestar.types import Scope
from redis.asyncio import Redis

WINDOW_SECONDS = 60


class RequestLog(Protocol):
    async def take(self, address: str, limit: int) -> float:
        """Admit and log one request from ``address`` if fewer than ``limit`` were admitted in
        the last ``WINDOW_SECONDS``, returning 0; else log nothing and return the seconds until
        the oldest of them leaves the window."""

    async def aclose(self) -> None: ...


class MemoryLog:
    """Logs in this process: right for one server process, not for several."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._admitted: defaultdict[str, deque[float]] = defaultdict(deque)
        self._next_sweep = clock() + WINDOW_SECONDS

    async def take(self, address: str, limit: int) -> float:
        now = self._clock()
        if now >= self._next_sweep:
            self._forget_silent(now)
        admitted = self._admitted[address]
        while admitted and admitted[0] <= now - WINDOW_SECONDS:
            admitted.popleft()
        if len(admitted) < limit:
            admitted.append(now)
            return 0.0
        return admitted[0] + WINDOW_SECONDS - now

    def _forget_silent(self, now: float) -> None:
        """Once a window, drop the addresses with nothing admitted in the last one."""
        horizon = now - WINDOW_SECONDS
        self._admitted = defaultdict(
            deque,
            {
                address: admitted
                for address, admitted in self._admitted.items()
                if admitted and admitted[-1] > horizon
            },
        )
        self._next_sweep = now + WINDOW_SECONDS

    async def aclose(self) -> None:
        self._admitted.clear()


# One sorted set per address: member a request's unique id, score the microsecond it was
# admitted, by Redis's clock (one clock for every instance, whatever theirs say). The check and
# the record are one script, so concurrent requests on any instances cannot take the last place
# twice. Returns 0 when admitted, else the microseconds until the oldest entry leaves.
_TAKE_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
    return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""


class RedisLog:
    """Logs in Redis, shared by every instance and worker that names the same Redis."""

    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url)
        self._take = self._redis.register_script(_TAKE_SCRIPT)

    async def take(self, address: str, limit: int) -> float:
        window_us = WINDOW_SECONDS * 1_000_000
        wait_us = await self._take(
            keys=[f"ciam-ip-log:{address}"], args=[window_us, limit, uuid.uuid4().hex]
        )
        return int(wait_us) / 1_000_000

    async def aclose(self) -> None:
        await self._redis.aclose()


IP_LIMITED = "ip_limited"
"""The ``opt`` key marking the routes the limit guards (the API router's)."""


class IpRateLimit:
    """The limit: ``limit`` requests a minute from each address, as ``log`` counts them.
    Checked by the app's ``before_request`` hook (:mod:`ciam_server.api.hooks`) on the routes
    marked :data:`IP_LIMITED`."""

    def __init__(self, limit: int, log: RequestLog) -> None:
        self.limit = limit
        self.log = log

    async def admit(self, scope: Scope) -> None:
        """Admit the request and log it, or refuse it with ``429`` and when to come back."""
        client = scope.get("client")
        address = client[0] if client else "unknown"
        wait = await self.log.take(address, self.limit)
        if wait > 0:
            raise TooManyRequestsException(
                headers={
                    "RateLimit-Limit": str(self.limit),
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(max(1, math.ceil(wait))),
                }
            )
