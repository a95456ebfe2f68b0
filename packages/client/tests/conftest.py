"""No test of the SDK ever waits between retries; the SDK against the real app (the server's
test kit) through the fixtures below."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ciam_client import AsyncCiamClient, CiamClient, _client
from ciam_server.testing import CiamTestServer, RegisteredUser


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays both clients asked to wait, in order; nothing actually waits."""
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)

    async def async_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(_client, "_sleep", sleep)
    monkeypatch.setattr(_client, "_async_sleep", async_sleep)
    return delays


@pytest.fixture
def user(ciam_test_server: CiamTestServer) -> RegisteredUser:
    return ciam_test_server.create_user()


@pytest.fixture
def ciam(ciam_test_server: CiamTestServer) -> Iterator[CiamClient]:
    app = ciam_test_server.create_application("web")
    with (
        ciam_test_server.http_client() as http,
        CiamClient(
            base_url=ciam_test_server.transport_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            http_client=http,
            max_retries=0,
        ) as client,
    ):
        yield client


@pytest.fixture
async def async_ciam(ciam_test_server: CiamTestServer) -> AsyncIterator[AsyncCiamClient]:
    app = ciam_test_server.create_application("web")
    async with (
        ciam_test_server.async_http_client() as http,
        AsyncCiamClient(
            base_url=ciam_test_server.transport_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            http_client=http,
            max_retries=0,
        ) as client,
    ):
        yield client
