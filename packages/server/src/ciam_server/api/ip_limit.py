"""The per-address request limit on the API endpoints: ``CIAM_IP_RATE_LIMIT`` requests a minute.

Counted in fixed one-minute windows (so a burst straddling two windows can reach twice the limit
within a minute), with one atomic increment per request: in this process's
memory by default, or in Redis (``CIAM_REDIS_URL``) so that every instance and worker shares the
count. The address is the peer's, or the one a trusted proxy forwarded (see ``serve``).
"""

from __future__ import annotations

import time
from typing import Protocol

from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis

WINDOW_SECONDS = 60


class _Shared:
    """A counter is one resource shared by every route it guards: Litestar deep-copies the
    middleware of its routers, and the copies must count together (and a Redis connection
    pool cannot be copied at all)."""

    def __deepcopy__(self, memo: dict[int, object]) -> _Shared:
        return self


class WindowCounter(Protocol):
    async def hit(self, key: str) -> int:
        """Count one request under ``key`` and return the count so far in its window."""

    async def aclose(self) -> None: ...


class MemoryCounter(_Shared):
    """Counts in this process: right for one server process, not for several."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._window = -1

    async def hit(self, key: str) -> int:
        window = int(time.time() // WINDOW_SECONDS)
        if window != self._window:  # a new minute: the old counts can go
            self._counts.clear()
            self._window = window
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        return count

    async def aclose(self) -> None:
        self._counts.clear()


class RedisCounter(_Shared):
    """Counts in Redis: INCR and EXPIRE in one transaction, so concurrent requests on any
    number of instances never read and write over each other."""

    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url)

    async def hit(self, key: str) -> int:
        async with self._redis.pipeline(transaction=True) as pipeline:
            pipeline.incr(key)
            pipeline.expire(key, WINDOW_SECONDS * 2)
            count, _ = await pipeline.execute()
        return int(count)

    async def aclose(self) -> None:
        await self._redis.aclose()


class IpRateLimitMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, limit: int, counter: WindowCounter) -> None:
        self.limit = limit
        self.counter = counter

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        count = await self.counter.hit(f"ciam-ip-limit:{window}:{address}")
        if count > self.limit:
            reset = max(1, int((window + 1) * WINDOW_SECONDS - now))
            raise TooManyRequestsException(
                headers={
                    "RateLimit-Limit": str(self.limit),
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(reset),
                }
            )
        await next_app(scope, receive, send)
