"""``X-Request-ID``: a sane one is echoed, anything else replaced, on every response."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from .support import EMAIL, WEB_AUTH

Client = AsyncTestClient[Litestar]

SANE = ["abc-123", "req_01HZX.42:7", "A" * 128, "0"]
NOT_SANE = [
    "with spaces inside",
    "A" * 129,
    "semi;colon",
    "new\\nline",
    "<script>",
    "",
]


@pytest.mark.parametrize("request_id", SANE)
async def test_a_sane_request_id_is_echoed(client: Client, request_id: str) -> None:
    response = await client.post(
        "/otp/send",
        json={"usage": "reset_password", "email": EMAIL},
        headers=WEB_AUTH | {"X-Request-ID": request_id},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize("request_id", NOT_SANE)
async def test_an_insane_request_id_is_replaced(client: Client, request_id: str) -> None:
    response = await client.post(
        "/otp/send",
        json={"usage": "reset_password", "email": EMAIL},
        headers=WEB_AUTH | {"X-Request-ID": request_id},
    )
    replaced = response.headers["x-request-id"]
    assert replaced != request_id
    assert replaced.isalnum()
    assert 0 < len(replaced) <= 128


async def test_a_request_id_is_made_up_when_none_is_sent(client: Client) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert first.headers["x-request-id"]
    assert second.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/path", 404),
        ("GET", "/otp/send", 405),
        ("POST", "/reset_user_password", 415),
        ("POST", "/otp/send", 415),
    ],
)
async def test_error_responses_carry_the_request_id(
    client: Client, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, headers={"X-Request-ID": "trace-404-1"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "trace-404-1"


async def test_a_refused_client_gets_the_request_id_too(client: Client) -> None:
    response = await client.post(
        "/otp/send",
        json={"usage": "reset_password", "email": EMAIL},
        headers={"X-Request-ID": "trace-401"},
    )
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-401"
