"""The per-address request limit on the API endpoints: at most ``CIAM_IP_RATE_LIMIT`` requests
admitted from one address in any 60 seconds, in a moving window of the ``limits`` library.

A request is admitted while fewer than the limit were admitted in the last 60 seconds; a refused
one is told when the oldest of those leaves the window, and is not recorded, so a caller that
waits as told gets in and one that keeps retrying gains nothing. Unlike counts in fixed
one-minute windows, no burst straddling two windows gets twice the limit through.

The window lives in this process's memory by default, or in Redis (``CIAM_REDIS_URL``) so that
every instance and worker shares it; there the check and the record are one Lua script, so
concurrent requests on any instances cannot take the last place twice. The address is the
peer's, or the one a trusted proxy forwarded (see ``serve``).

In memory the library's synchronous limiter is used: its checks never wait, and its asyncio
storage would start a task and a worker thread to expire old entries at every request.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute, WindowStats
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter as SharedMovingWindow
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter as LocalMovingWindow
from litestar.exceptions import TooManyRequestsException
from litestar.types import Scope
from redis.asyncio import ConnectionPool

IP_LIMITED = "ip_limited"
"""The ``opt`` key marking the routes the limit guards (the API router's)."""

NAMESPACE = "ciam-ip"
"""The first part of every window's key: ``ciam-ip/ADDRESS/LIMIT/1/minute`` (in Redis, after
the ``LIMITS:`` prefix of the ``limits`` library)."""


SIGN_IN_NAMESPACE = "ciam-sign-in"
"""The namespace of the per-address limit on password sign-ins (``CIAM_SIGN_IN_IP_LIMIT``),
which the password grant checks before any argon2 work."""


class IpRateLimit:
    """The limit: ``limit`` requests a minute from each address, counted in this process or,
    given ``redis_url``, in that Redis. Checked by the app's ``before_request`` hook
    (:mod:`ciam_server.api.hooks`) on the routes marked :data:`IP_LIMITED`."""

    def __init__(
        self, limit: int, redis_url: str | None = None, *, namespace: str = NAMESPACE
    ) -> None:
        self.item = RateLimitItemPerMinute(limit, namespace=namespace)
        # redis-py, already the server's Redis client, rather than coredis, the limits library's
        # default: one client library, and the connections are made from CIAM_REDIS_URL as
        # redis-py reads any of its forms (redis://, rediss://, unix://). Given the pool, the
        # storage takes its connections from it and its URI only names the storage.
        self._pool = None if redis_url is None else ConnectionPool.from_url(redis_url)
        self._limiter: LocalMovingWindow | SharedMovingWindow
        if self._pool is None:
            self._limiter = LocalMovingWindow(MemoryStorage())
        else:
            storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                connection_pool=self._pool,  # type: ignore[arg-type]  # documented; typed narrowly
            )
            self._limiter = SharedMovingWindow(storage)

    async def retry_after(self, address: str) -> int | None:
        """Admit a request from ``address`` and record it (None), or tell in how many seconds
        one will be admitted."""
        if await self._hit(address):
            return None
        window = await self._window(address)
        # The whole second after the oldest request leaves (the window still counts a request
        # exactly a minute old), and never more than the window's minute.
        seconds = math.floor(window.reset_time - time.time()) + 1
        return min(max(1, seconds), self.item.get_expiry())

    async def admit(self, scope: Scope) -> None:
        """Admit the request and record it, or refuse it with ``429`` and when to come back."""
        client = scope.get("client")
        wait = await self.retry_after(client[0] if client else "unknown")
        if wait is None:
            return
        raise TooManyRequestsException(
            headers={
                "RateLimit-Limit": str(self.item.amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(wait),
            }
        )

    async def _hit(self, address: str) -> bool:
        if isinstance(self._limiter, LocalMovingWindow):
            return self._limiter.hit(self.item, address)
        return await self._limiter.hit(self.item, address)

    async def _window(self, address: str) -> WindowStats:
        if isinstance(self._limiter, LocalMovingWindow):
            return self._limiter.get_window_stats(self.item, address)
        return await self._limiter.get_window_stats(self.item, address)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
