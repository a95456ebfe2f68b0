"""``X-Request-ID``: a sane one is echoed, anything else replaced, on every response; and the
request's log records carry it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ciam_server.logs import REQUEST_ID

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


class _RequestIdsOfRecords(logging.Handler):
    """Notes the request id bound when each record is emitted, as the formatters read it."""

    def __init__(self) -> None:
        super().__init__()
        self.request_ids: list[str | None] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.request_ids.append(REQUEST_ID.get())


@pytest.fixture
def audit_records() -> Iterator[_RequestIdsOfRecords]:
    audit_logger = logging.getLogger("ciam_server.audit")
    handler = _RequestIdsOfRecords()
    audit_logger.addHandler(handler)
    level = audit_logger.level
    audit_logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        audit_logger.removeHandler(handler)
        audit_logger.setLevel(level)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/otp/send", {"usage": "reset_password", "email": EMAIL}),
        (
            "/reset_user_password",
            {"email": EMAIL, "email_otp_token": "t" * 43, "email_otp": "123456", "password": "x"},
        ),
    ],
)
async def test_log_records_of_a_request_carry_its_id(
    client: Client, audit_records: _RequestIdsOfRecords, path: str, body: dict[str, str]
) -> None:
    response = await client.post(path, json=body, headers=WEB_AUTH | {"X-Request-ID": "trace-log"})

    assert response.headers["x-request-id"] == "trace-log"
    assert audit_records.request_ids == ["trace-log"]
