"""The per-address request limit (``CIAM_IP_RATE_LIMIT``) on real server processes.

Each test speaks from a loopback address of its own (127.a.b.c reaches the server on 127.0.0.1),
so that the tests do not share a count, also not in a Redis that another run uses.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from ciam_client import CiamClient, TooManyRequestsError

from .ci import unavailable
from .conftest import (
    FAST_ARGON2,
    NO_LIMITS,
    SECRET_KEY,
    Server,
    _free_port,
    api_error,
    unique_email,
)
from .server_support import (
    assert_error,
    client_from,
    loopback_address,
    retry_after,
    servers_started,
)

LIMIT = 5
REDIS_URL = os.environ.get("CIAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _ask(http: httpx.Client, server: Server, forwarded_for: str | None = None) -> httpx.Response:
    """One request counted by the limit: a send for an application that does not exist."""
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    return http.post(
        f"{server.base_url}/otp/send",
        json={"client_id": "no-such-app", "usage": "reset_password", "email": unique_email()},
        headers=headers,
    )


def _assert_counted(response: httpx.Response) -> None:
    """Answered by the handler, not by the limit."""
    assert_error(response, 401, "invalid_client")


def _assert_limited(response: httpx.Response) -> None:
    description = assert_error(response, 429, "too_many_requests")
    assert description
    assert 0 < retry_after(response) <= 60
    assert response.headers["X-Request-ID"]


def _random_public_address() -> str:
    n = uuid.uuid4().int
    return f"198.{18 + n % 2}.{n // 2 % 256}.{n // 512 % 254 + 1}"  # 198.18.0.0/15: benchmarks


@pytest.fixture(scope="module")
def ip_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Limit 5 a minute: one server believes no proxy, the other believes 127.0.0.1."""
    specs = [
        (tmp_path_factory.mktemp("ip"), {"CIAM_IP_RATE_LIMIT": str(LIMIT)}),
        (
            tmp_path_factory.mktemp("proxied"),
            {"CIAM_IP_RATE_LIMIT": str(LIMIT), "CIAM_TRUSTED_PROXIES": "127.0.0.1"},
        ),
    ]
    with servers_started(*specs) as (direct, proxied):
        yield direct, proxied


@pytest.fixture(scope="module")
def ip_limited_server(ip_servers: tuple[Server, Server]) -> Server:
    return ip_servers[0]


@pytest.fixture(scope="module")
def proxied_server(ip_servers: tuple[Server, Server]) -> Server:
    return ip_servers[1]


def test_the_sixth_request_in_a_minute_is_refused(ip_limited_server: Server) -> None:
    address = loopback_address()
    with client_from(address) as http:
        for _ in range(3):
            _assert_counted(_ask(http, ip_limited_server))
        # Both endpoints draw on one count.
        for _ in range(LIMIT - 3):
            reset = http.post(
                f"{ip_limited_server.base_url}/reset_user_password",
                json={"client_id": "no-such-app"},
            )
            assert_error(reset, 401, "invalid_client")
        _assert_limited(_ask(http, ip_limited_server))
        limited_reset = http.post(
            f"{ip_limited_server.base_url}/reset_user_password", json={"client_id": "x"}
        )
        _assert_limited(limited_reset)

    # Another address has a count of its own.
    with client_from(loopback_address()) as http:
        _assert_counted(_ask(http, ip_limited_server))


def test_the_sdk_raises_too_many_requests(ip_limited_server: Server) -> None:
    address = loopback_address()
    with client_from(address) as http:
        for _ in range(LIMIT):
            _ask(http, ip_limited_server)
        with (
            CiamClient(
                base_url=ip_limited_server.base_url,
                client_id="no-such-app",
                max_retries=0,
                http_client=http,
            ) as ciam,
            api_error(TooManyRequestsError, status=429, code="too_many_requests") as refused,
        ):
            ciam.send_otp(email=unique_email())
    assert refused.value.retry_after is not None
    assert 0 < refused.value.retry_after <= 60


def test_a_forwarded_for_header_from_an_untrusted_peer_is_ignored(
    ip_limited_server: Server, proxied_server: Server
) -> None:
    """Naming another address in X-Forwarded-For does not buy a caller another count: not on a
    server that believes no proxy, nor from a peer that is not the trusted proxy."""
    for server in (ip_limited_server, proxied_server):
        with client_from(loopback_address()) as http:
            for _ in range(LIMIT):
                _assert_counted(_ask(http, server, forwarded_for=_random_public_address()))
            _assert_limited(_ask(http, server, forwarded_for=_random_public_address()))
            _assert_limited(_ask(http, server))


def test_a_trusted_proxy_gets_a_count_per_forwarded_address(proxied_server: Server) -> None:
    first, second = _random_public_address(), _random_public_address()
    with httpx.Client() as http:  # from 127.0.0.1, the trusted proxy
        for _ in range(LIMIT):
            _assert_counted(_ask(http, proxied_server, forwarded_for=first))
        _assert_limited(_ask(http, proxied_server, forwarded_for=first))
        for _ in range(LIMIT):
            _assert_counted(_ask(http, proxied_server, forwarded_for=second))
        _assert_limited(_ask(http, proxied_server, forwarded_for=second))


@pytest.mark.sqlite_only  # the subject is the HTTP layer, not the store
def test_a_limit_of_zero_turns_the_limit_off(server: Server) -> None:
    """The shared server runs with CIAM_IP_RATE_LIMIT=0; the default would be 60 a minute."""
    with client_from(loopback_address()) as http:
        for _ in range(70):
            response = _ask(http, server)
            _assert_counted(response)
            assert "RateLimit-Limit" not in response.headers


# --- Redis ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        unavailable(f"Redis at {REDIS_URL} is unreachable ({error!r}); set CIAM_TEST_REDIS_URL")
    yield client
    client.close()


def _keys_of(client: redis.Redis, address: str) -> list[bytes]:
    """The Redis keys counting the requests of ``address`` (the server's keys name it between
    slashes: ``LIMITS:ciam-ip/ADDRESS/LIMIT/1/minute``)."""
    return list(client.scan_iter(match=f"*/{address}/*"))


def _forget(client: redis.Redis, address: str) -> None:
    """Delete this test's counts, and nothing else."""
    keys = _keys_of(client, address)
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def redis_servers(
    redis_client: redis.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """Two server processes counting requests in one Redis."""
    settings = {"CIAM_IP_RATE_LIMIT": str(LIMIT), "CIAM_REDIS_URL": REDIS_URL}
    specs = [(tmp_path_factory.mktemp(f"redis-{name}"), settings) for name in ("one", "two")]
    with servers_started(*specs) as (one, two):
        yield one, two


def test_two_servers_sharing_redis_share_the_count(
    redis_client: redis.Redis, redis_servers: tuple[Server, Server]
) -> None:
    one, two = redis_servers
    address = loopback_address()
    try:
        with client_from(address) as http:
            for _ in range(3):
                _assert_counted(_ask(http, one))
            assert _keys_of(redis_client, address), "the count is not in Redis"
            for _ in range(LIMIT - 3):
                _assert_counted(_ask(http, two))
            _assert_limited(_ask(http, two))
            _assert_limited(_ask(http, one))
    finally:
        _forget(redis_client, address)


async def test_concurrent_requests_to_two_servers_cannot_exceed_the_shared_count(
    redis_client: redis.Redis, redis_servers: tuple[Server, Server]
) -> None:
    """An attacker does not wait for one answer before sending the next: 20 requests at once,
    spread over both servers, still get at most 5 answers past the limit."""
    address = loopback_address()
    transport = httpx.AsyncHTTPTransport(local_address=address)
    try:
        async with httpx.AsyncClient(transport=transport) as http:
            responses = await asyncio.gather(
                *(
                    http.post(
                        f"{server.base_url}/otp/send",
                        json={"client_id": "no-such-app", "usage": "reset_password"},
                    )
                    for server in redis_servers * 10
                )
            )
    finally:
        _forget(redis_client, address)
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= LIMIT, f"{statuses[401]} requests got past a limit of {LIMIT}"


# --- worker processes ---------------------------------------------------------------------------


def test_worker_processes_do_not_multiply_the_limit(tmp_path: Path) -> None:
    """``serve --workers 2`` without Redis: were each worker to count in its own memory, a
    caller would get twice the limit. Either the workers share one count, or the server refuses
    to start so configured (exit code 2, as for any configuration error)."""
    port = _free_port()
    env = {
        **os.environ,
        "CIAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ciam.db'}",
        "CIAM_OUTBOX_PATH": str(tmp_path / "outbox.jsonl"),
        "CIAM_SECRET_KEY": SECRET_KEY,
        **FAST_ARGON2,
        **NO_LIMITS,
        "CIAM_IP_RATE_LIMIT": str(LIMIT),
        "CIAM_LOG_FORMAT": "text",
    }
    env.pop("CIAM_REDIS_URL", None)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ciam_server", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while process.poll() is None:
                started = log_path.read_text(errors="replace").count("Application startup complete")
                if started >= 2:
                    break
                assert time.monotonic() < deadline, log_path.read_text(errors="replace")
                time.sleep(0.2)
            if process.poll() is not None:
                assert process.returncode == 2, log_path.read_text(errors="replace")
                return

            address = loopback_address()

            async def one() -> int:
                transport = httpx.AsyncHTTPTransport(local_address=address)
                async with httpx.AsyncClient(transport=transport) as http:
                    response = await http.post(
                        f"http://127.0.0.1:{port}/otp/send", json={"client_id": "no-such-app"}
                    )
                    return response.status_code

            async def burst() -> list[int]:
                return list(await asyncio.gather(*(one() for _ in range(20))))

            statuses = Counter(asyncio.run(burst()))
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= LIMIT, f"{statuses[401]} requests got past a limit of {LIMIT}"
