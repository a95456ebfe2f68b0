"""Both clients on the wire, against respx: what they send and how they read the answers.

Each test runs once with :class:`CiamClient` and once with :class:`AsyncCiamClient`, through
the awaitable :class:`Sdk` wrapper.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote, unquote_plus

import httpx
import pytest
import respx

from ciam_client import (
    INVALID_RESPONSE,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncCiamClient,
    BadOtpError,
    BadOtpTokenError,
    CiamClient,
    InsufficientQuotaError,
    OtpSendResponse,
    RateLimitExceededError,
    ServerError,
    SmsRateLimitExceededError,
    Usage,
    __version__,
)
from ciam_shared import ErrorCode, status_of

BASE_URL = "https://ciam.test"
OTP_SEND_URL = f"{BASE_URL}/otp/send"
RESET_URL = f"{BASE_URL}/reset_user_password"
CLIENT_ID = "web-app"
CLIENT_SECRET = "client-secret-value"
PASSWORD = "new-Password-value-1"
OTP = "123456"
OTP_TOKEN = "otp-token-value"
EMAIL = "someone@example.com"
PHONE = "+8613800138000"


@dataclass
class Sdk:
    """One client, sync or async, behind awaitable methods, so one test covers both."""

    client: CiamClient | AsyncCiamClient

    async def send_otp(self, **kwargs: Any) -> OtpSendResponse:
        if isinstance(self.client, CiamClient):
            return self.client.send_otp(**kwargs)
        return await self.client.send_otp(**kwargs)

    async def reset_user_password(self, **kwargs: Any) -> None:
        if isinstance(self.client, CiamClient):
            self.client.reset_user_password(**kwargs)
        else:
            await self.client.reset_user_password(**kwargs)

    async def reset_by_email(self) -> None:
        await self.reset_user_password(password=PASSWORD, otp=OTP, otp_token=OTP_TOKEN, email=EMAIL)


MakeSdk = Callable[..., Sdk]


@pytest.fixture(params=["sync", "async"])
async def make_sdk(request: pytest.FixtureRequest) -> AsyncIterator[MakeSdk]:
    """Make clients of the parametrized kind (confidential unless told) and close them after."""
    made: list[CiamClient | AsyncCiamClient] = []

    def make(**options: Any) -> Sdk:
        options = {
            "base_url": BASE_URL,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        } | options
        client = CiamClient(**options) if request.param == "sync" else AsyncCiamClient(**options)
        made.append(client)
        return Sdk(client)

    yield make
    for client in made:
        if isinstance(client, CiamClient):
            client.close()
        else:
            await client.aclose()


@pytest.fixture
def sdk(make_sdk: MakeSdk) -> Sdk:
    return make_sdk()


def sent_json(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


# Authentication, headers and bodies.


async def test_the_header_of_the_contract_example(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(RESET_URL).respond(200)
    sdk = make_sdk(client_id="TENANT_CLIENT_ID", client_secret="TENANT_CLIENT_SECRET")

    await sdk.reset_by_email()

    assert route.calls.last.request.headers["Authorization"] == (
        "Basic VEVOQU5UX0NMSUVOVF9JRDpURU5BTlRfQ0xJRU5UX1NFQ1JFVA=="
    )


@pytest.mark.parametrize(
    ("client_id", "client_secret"),
    [
        ("app:with:colons", "secret:too"),
        ("100%", "50%off"),
        ("a+b", "c+d=e&f"),
        ("with space", "pass word"),
        ("客户端", "sécrèt✓"),
        ("plain", ""),
    ],
)
async def test_basic_credentials_are_url_encoded_before_joining(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter, client_id: str, client_secret: str
) -> None:
    route = respx_mock.post(OTP_SEND_URL).respond(200, json={"otp_token": "t", "expires_in": 600})
    sdk = make_sdk(client_id=client_id, client_secret=client_secret)

    await sdk.send_otp(email=EMAIL)

    scheme, _, credentials = route.calls.last.request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    pair = base64.b64decode(credentials, validate=True).decode("ascii")
    assert pair.count(":") == 1
    encoded_id, encoded_secret = pair.split(":")
    # RFC 6749 §2.3.1 decodes each part as form data; plain percent-decoding must agree.
    for decode in (unquote, unquote_plus):
        assert decode(encoded_id) == client_id
        assert decode(encoded_secret) == client_secret


async def test_a_confidential_client_keeps_its_credentials_out_of_the_body(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(OTP_SEND_URL).respond(200, json={"otp_token": "t", "expires_in": 600})

    await sdk.send_otp(email=EMAIL)

    assert sent_json(route.calls.last.request) == {"usage": "reset_password", "email": EMAIL}


async def test_a_public_client_names_itself_in_the_body(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter
) -> None:
    otp_send = respx_mock.post(OTP_SEND_URL).respond(
        200, json={"otp_token": "t", "expires_in": 600}
    )
    reset = respx_mock.post(RESET_URL).respond(200)
    sdk = make_sdk(client_secret=None)

    await sdk.send_otp(email=EMAIL)
    await sdk.reset_by_email()

    for route in (otp_send, reset):
        request = route.calls.last.request
        assert "Authorization" not in request.headers
        assert sent_json(request)["client_id"] == CLIENT_ID
        assert "client_secret" not in sent_json(request)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ({"email": EMAIL}, {"usage": "reset_password", "email": EMAIL}),
        ({"phone_number": PHONE}, {"usage": "reset_password", "phone_number": PHONE}),
        ({"email": EMAIL, "usage": Usage.SIGNUP}, {"usage": "signup", "email": EMAIL}),
        ({"email": EMAIL, "usage": "login"}, {"usage": "login", "email": EMAIL}),
    ],
)
async def test_send_otp(
    sdk: Sdk, respx_mock: respx.MockRouter, channel: dict[str, str], expected: dict[str, str]
) -> None:
    route = respx_mock.post(OTP_SEND_URL).respond(
        200, json={"otp_token": OTP_TOKEN, "expires_in": 600}
    )

    result = await sdk.send_otp(**channel)

    assert result == OtpSendResponse(otp_token=OTP_TOKEN, expires_in=600)
    assert sent_json(route.calls.last.request) == expected


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        (
            {"email": EMAIL},
            {"email": EMAIL, "email_otp": OTP, "email_otp_token": OTP_TOKEN},
        ),
        (
            {"phone_number": PHONE},
            {"phone_number": PHONE, "phone_number_otp": OTP, "phone_number_otp_token": OTP_TOKEN},
        ),
    ],
)
async def test_reset_user_password_sends_the_channel_triple(
    sdk: Sdk, respx_mock: respx.MockRouter, channel: dict[str, str], expected: dict[str, str]
) -> None:
    route = respx_mock.post(RESET_URL).respond(200)

    await sdk.reset_user_password(password=PASSWORD, otp=OTP, otp_token=OTP_TOKEN, **channel)

    assert sent_json(route.calls.last.request) == {"password": PASSWORD} | expected


@pytest.mark.parametrize(
    "channels",
    [{}, {"email": EMAIL, "phone_number": PHONE}],
    ids=["no channel", "two channels"],
)
async def test_exactly_one_channel_or_nothing_is_sent(
    sdk: Sdk, respx_mock: respx.MockRouter, channels: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="exactly one of email and phone_number"):
        await sdk.send_otp(**channels)
    with pytest.raises(ValueError, match="exactly one of email and phone_number"):
        await sdk.reset_user_password(password=PASSWORD, otp=OTP, otp_token=OTP_TOKEN, **channels)

    assert respx_mock.calls.call_count == 0


async def test_every_request_says_who_sends_it_and_what_it_is(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    otp_send = respx_mock.post(OTP_SEND_URL).respond(
        200, json={"otp_token": "t", "expires_in": 600}
    )
    reset = respx_mock.post(RESET_URL).respond(200)

    await sdk.send_otp(email=EMAIL)
    await sdk.reset_by_email()

    for route in (otp_send, reset):
        headers = route.calls.last.request.headers
        assert headers["User-Agent"] == f"ciam-client/{__version__}"
        assert headers["Content-Type"] == "application/json"
        assert headers["Accept"] == "application/json"


async def test_a_trailing_slash_on_the_base_url_is_ignored(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(RESET_URL).respond(200)

    await make_sdk(base_url=f"{BASE_URL}/").reset_by_email()

    assert route.called


async def test_the_timeout_applies_to_each_request(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(RESET_URL).respond(200)

    await make_sdk(timeout=2.5).reset_by_email()

    assert route.calls.last.request.extensions["timeout"] == {
        "connect": 2.5,
        "read": 2.5,
        "write": 2.5,
        "pool": 2.5,
    }


# Error answers.


@pytest.mark.parametrize("code", list(ErrorCode))
async def test_each_code_raises_its_leaf_class(
    sdk: Sdk, respx_mock: respx.MockRouter, code: ErrorCode
) -> None:
    status = status_of(code)
    respx_mock.post(RESET_URL).respond(
        status,
        json={"error": code.value, "error_description": "Why it failed."},
        headers={"X-Request-ID": "req-42"},
    )

    with pytest.raises(APIStatusError) as raised:
        await sdk.reset_by_email()

    error = raised.value
    assert type(error).__dict__.get("code_enum") is code
    assert error.status_code == status
    assert error.code == code.value
    assert error.description == "Why it failed."
    assert error.request_id == "req-42"
    assert error.response.status_code == status
    assert str(error) == f"[request_id: req-42] {status} {code.value}: Why it failed."


@pytest.mark.parametrize(
    ("family", "codes"),
    [
        (BadOtpError, ["bad_email_otp", "bad_phone_number_otp"]),
        (BadOtpTokenError, ["bad_email_otp_token", "bad_phone_number_otp_token"]),
        (RateLimitExceededError, ["email_rate_limit_exceeded", "sms_rate_limit_exceeded"]),
        (InsufficientQuotaError, ["insufficient_email_quota", "insufficient_sms_quota"]),
    ],
)
async def test_a_family_catches_both_channels(
    sdk: Sdk, respx_mock: respx.MockRouter, family: type[APIStatusError], codes: list[str]
) -> None:
    respx_mock.post(RESET_URL).mock(
        side_effect=[httpx.Response(400, json={"error": code}) for code in codes]
    )
    for code in codes:
        with pytest.raises(family) as raised:
            await sdk.reset_by_email()
        assert raised.value.code == code


async def test_an_unknown_code_raises_the_base_class_with_the_raw_code(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(OTP_SEND_URL).respond(422, json={"error": "a_code_from_the_future"})

    with pytest.raises(APIStatusError) as raised:
        await sdk.send_otp(email=EMAIL)

    assert type(raised.value) is APIStatusError
    assert raised.value.code == "a_code_from_the_future"
    assert raised.value.status_code == 422
    assert raised.value.description is None
    assert str(raised.value) == "422 a_code_from_the_future"


async def test_unknown_fields_of_an_error_body_are_ignored(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(RESET_URL).respond(400, json={"error": "user_not_found", "hint": 1})

    with pytest.raises(APIStatusError) as raised:
        await sdk.reset_by_email()

    assert raised.value.code == "user_not_found"


@pytest.mark.parametrize(
    ("status", "content"),
    [
        (400, b"<html>Bad Request</html>"),
        (404, b"Not Found"),
        (400, b'{"message": "not our shape"}'),
        (401, b'{"error": 42}'),
        (403, b""),
    ],
)
async def test_a_client_error_without_an_error_body_is_an_invalid_response(
    sdk: Sdk, respx_mock: respx.MockRouter, status: int, content: bytes
) -> None:
    respx_mock.post(RESET_URL).respond(status, content=content)

    with pytest.raises(APIStatusError) as raised:
        await sdk.reset_by_email()

    assert type(raised.value) is APIStatusError
    assert raised.value.code == INVALID_RESPONSE
    assert raised.value.status_code == status
    assert raised.value.description == f"HTTP {status} without a JSON error body"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_without_an_error_body_is_a_server_error(
    sdk: Sdk, respx_mock: respx.MockRouter, status: int
) -> None:
    respx_mock.post(RESET_URL).respond(
        status, content=b"<html>Bad Gateway</html>", headers={"Content-Type": "text/html"}
    )

    with pytest.raises(ServerError) as raised:
        await sdk.reset_by_email()

    assert raised.value.code == "server_error"
    assert raised.value.status_code == status


async def test_a_success_with_a_malformed_body_is_a_validation_error(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(OTP_SEND_URL).respond(
        200, json={"token": "wrong field"}, headers={"X-Request-ID": "req-7"}
    )

    with pytest.raises(APIResponseValidationError) as raised:
        await sdk.send_otp(email=EMAIL)

    assert raised.value.status_code == 200
    assert raised.value.request_id == "req-7"
    assert str(raised.value).startswith("[request_id: req-7] 200")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        ("in 120 s", 120.0),
    ],
)
async def test_retry_after_is_read_in_seconds_or_as_a_date(
    sdk: Sdk, respx_mock: respx.MockRouter, header: str, expected: float
) -> None:
    if header == "in 120 s":  # an HTTP-date, made when the test runs, not when it is collected
        header = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    respx_mock.post(OTP_SEND_URL).respond(
        400, json={"error": "sms_rate_limit_exceeded"}, headers={"Retry-After": header}
    )

    with pytest.raises(SmsRateLimitExceededError) as raised:
        await sdk.send_otp(phone_number="+8613800138000")

    assert raised.value.retry_after == pytest.approx(expected, abs=5)


async def test_exceptions_never_show_what_was_sent(sdk: Sdk, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(RESET_URL).respond(
        400, json={"error": "recurrent_password", "error_description": "Used recently."}
    )

    with pytest.raises(APIStatusError) as raised:
        await sdk.reset_by_email()

    for shown in (str(raised.value), repr(raised.value)):
        for secret in (PASSWORD, OTP, OTP_TOKEN, CLIENT_SECRET):
            assert secret not in shown


# Transport failures.


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectTimeout("connect"), httpx.ReadTimeout("read"), httpx.PoolTimeout("pool")],
)
async def test_a_timeout_raises_api_timeout_error(
    sdk: Sdk, respx_mock: respx.MockRouter, failure: httpx.TimeoutException
) -> None:
    respx_mock.post(RESET_URL).mock(side_effect=failure)

    with pytest.raises(APITimeoutError) as raised:
        await sdk.reset_by_email()

    assert raised.value.__cause__ is failure
    assert str(raised.value) == (
        f"Request timed out ({type(failure).__name__}): POST {BASE_URL}/reset_user_password"
    )


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ReadError("reset by peer"),
        httpx.RemoteProtocolError(""),
    ],
)
async def test_a_broken_connection_raises_api_connection_error(
    sdk: Sdk, respx_mock: respx.MockRouter, failure: httpx.TransportError
) -> None:
    respx_mock.post(RESET_URL).mock(side_effect=failure)

    with pytest.raises(APIConnectionError) as raised:
        await sdk.reset_by_email()

    assert not isinstance(raised.value, APITimeoutError)
    assert raised.value.__cause__ is failure
    for secret in (PASSWORD, OTP, OTP_TOKEN, CLIENT_SECRET):
        assert secret not in str(raised.value)
        assert secret not in repr(raised.value)
