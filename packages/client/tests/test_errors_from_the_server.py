"""Each refusal the real server gives (the server's test kit, docs/testing.md) arrives as its
documented exception class, with its status, code and request id, through the sync and the async
client alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from ciam_client import (
    AbnormalUserStatusError,
    APIStatusError,
    AsyncCiamClient,
    BadEmailOtpError,
    BadEmailOtpTokenError,
    BadPhoneNumberOtpError,
    BadPhoneNumberOtpTokenError,
    CiamClient,
    EmailRateLimitExceededError,
    InvalidClientError,
    InvalidNewPasswordError,
    InvalidRequestError,
    MalformedEmailError,
    MalformedPhoneNumberError,
    RecurrentPasswordError,
    SmsRateLimitExceededError,
    UnauthorizedClientError,
    UserNotFoundError,
)
from ciam_server.testing import CiamTestServer, RegisteredApplication

NEW_PASSWORD = "Lantern-harbour-58"


@dataclass
class Sdk:
    """One client, sync or async, behind awaitable methods, so one test covers both."""

    client: CiamClient | AsyncCiamClient

    async def send_otp(self, **kwargs: Any) -> str:
        if isinstance(self.client, CiamClient):
            return self.client.send_otp(**kwargs).otp_token
        return (await self.client.send_otp(**kwargs)).otp_token

    async def reset(self, **kwargs: Any) -> None:
        if isinstance(self.client, CiamClient):
            self.client.reset_user_password(**kwargs)
        else:
            await self.client.reset_user_password(**kwargs)


async def call(
    server: CiamTestServer,
    app: RegisteredApplication,
    kind: str,
    step: Callable[[Sdk], Awaitable[Any]],
) -> None:
    """Run ``step`` with a client of ``kind`` (sync or async) as ``app``, with no retries."""
    if kind == "sync":
        with (
            server.http_client() as http,
            CiamClient(
                base_url=server.transport_url,
                client_id=app.client_id,
                client_secret=app.client_secret,
                max_retries=0,
                http_client=http,
            ) as client,
        ):
            await step(Sdk(client))
    else:
        async with (
            server.async_http_client() as async_http,
            AsyncCiamClient(
                base_url=server.transport_url,
                client_id=app.client_id,
                client_secret=app.client_secret,
                max_retries=0,
                http_client=async_http,
            ) as async_client,
        ):
            await step(Sdk(async_client))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


Scenario = Callable[[CiamTestServer, Sdk], Awaitable[Any]]


async def frozen(server: CiamTestServer, sdk: Sdk) -> None:
    user = server.create_user()
    server.freeze_user(user.email)
    token = await sdk.send_otp(email=user.email)
    await sdk.reset(
        email=user.email,
        otp=server.last_code(user.email).code,
        otp_token=token,
        password=NEW_PASSWORD,
    )


async def wrong_email_code(server: CiamTestServer, sdk: Sdk) -> None:
    user = server.create_user()
    token = await sdk.send_otp(email=user.email)
    otp = wrong(server.last_code(user.email).code)
    await sdk.reset(email=user.email, otp=otp, otp_token=token, password=NEW_PASSWORD)


async def wrong_phone_code(server: CiamTestServer, sdk: Sdk) -> None:
    user = server.create_user()
    token = await sdk.send_otp(phone_number=user.phone_number)
    otp = wrong(server.last_code(user.phone_number).code)
    await sdk.reset(phone_number=user.phone_number, otp=otp, otp_token=token, password=NEW_PASSWORD)


async def email_token_of_another(server: CiamTestServer, sdk: Sdk) -> None:
    user, other = server.create_user(), server.create_user()
    token = await sdk.send_otp(email=user.email)
    otp = server.last_code(user.email).code
    await sdk.reset(email=other.email, otp=otp, otp_token=token, password=NEW_PASSWORD)


async def phone_token_of_another(server: CiamTestServer, sdk: Sdk) -> None:
    user, other = server.create_user(), server.create_user()
    token = await sdk.send_otp(phone_number=user.phone_number)
    otp = server.last_code(user.phone_number).code
    await sdk.reset(
        phone_number=other.phone_number, otp=otp, otp_token=token, password=NEW_PASSWORD
    )


async def weak_password(server: CiamTestServer, sdk: Sdk) -> None:
    user = server.create_user()
    token = await sdk.send_otp(email=user.email)
    otp = server.last_code(user.email).code
    await sdk.reset(email=user.email, otp=otp, otp_token=token, password="short")


async def current_password(server: CiamTestServer, sdk: Sdk) -> None:
    user = server.create_user()
    token = await sdk.send_otp(email=user.email)
    otp = server.last_code(user.email).code
    await sdk.reset(email=user.email, otp=otp, otp_token=token, password=user.password)


async def no_account(server: CiamTestServer, sdk: Sdk) -> None:
    token = await sdk.send_otp(email="nobody@example.com")
    otp = server.last_code("nobody@example.com").code
    await sdk.reset(email="nobody@example.com", otp=otp, otp_token=token, password=NEW_PASSWORD)


async def malformed_email(server: CiamTestServer, sdk: Sdk) -> None:
    await sdk.send_otp(email="not-an-address")


async def malformed_phone_number(server: CiamTestServer, sdk: Sdk) -> None:
    await sdk.send_otp(phone_number="12345")


async def empty_code(server: CiamTestServer, sdk: Sdk) -> None:
    user = server.create_user()
    token = await sdk.send_otp(email=user.email)
    await sdk.reset(email=user.email, otp="", otp_token=token, password=NEW_PASSWORD)


async def email_too_soon(server: CiamTestServer, sdk: Sdk) -> None:
    await sdk.send_otp(email="ada@example.com")
    await sdk.send_otp(email="ada@example.com")


async def sms_too_soon(server: CiamTestServer, sdk: Sdk) -> None:
    await sdk.send_otp(phone_number="+8613800138000")
    await sdk.send_otp(phone_number="+8613800138000")


SCENARIOS: dict[str, tuple[Scenario, type[APIStatusError], int, str]] = {
    "frozen user": (frozen, AbnormalUserStatusError, 400, "abnormal_user_status"),
    "wrong email code": (wrong_email_code, BadEmailOtpError, 400, "bad_email_otp"),
    "wrong phone code": (wrong_phone_code, BadPhoneNumberOtpError, 400, "bad_phone_number_otp"),
    "email token of another": (
        email_token_of_another,
        BadEmailOtpTokenError,
        400,
        "bad_email_otp_token",
    ),
    "phone token of another": (
        phone_token_of_another,
        BadPhoneNumberOtpTokenError,
        400,
        "bad_phone_number_otp_token",
    ),
    "weak password": (weak_password, InvalidNewPasswordError, 400, "invalid_new_password"),
    "current password": (current_password, RecurrentPasswordError, 400, "recurrent_password"),
    "no account": (no_account, UserNotFoundError, 400, "user_not_found"),
    "malformed email": (malformed_email, MalformedEmailError, 400, "malformed_email"),
    "malformed phone number": (
        malformed_phone_number,
        MalformedPhoneNumberError,
        400,
        "malformed_phone_number",
    ),
    "empty code": (empty_code, InvalidRequestError, 400, "invalid_request"),
    "email too soon": (
        email_too_soon,
        EmailRateLimitExceededError,
        400,
        "email_rate_limit_exceeded",
    ),
    "sms too soon": (sms_too_soon, SmsRateLimitExceededError, 400, "sms_rate_limit_exceeded"),
}


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_refusal_raises_its_class(
    ciam_test_server: CiamTestServer, kind: str, scenario: str
) -> None:
    run, error_class, status, code = SCENARIOS[scenario]
    app = ciam_test_server.create_application("web")

    with pytest.raises(APIStatusError) as raised:
        await call(ciam_test_server, app, kind, lambda sdk: run(ciam_test_server, sdk))

    error = raised.value
    assert type(error) is error_class
    assert (error.status_code, error.code) == (status, code)
    assert error.request_id
    assert error.request_id == error.response.headers["X-Request-ID"]


REFUSED_APPLICATIONS: dict[str, tuple[str, str | None, type[APIStatusError], int, str]] = {
    "wrong secret": ("web", "not-the-secret", InvalidClientError, 401, "invalid_client"),
    "spa not enabled to send": ("spa", None, UnauthorizedClientError, 400, "unauthorized_client"),
}


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("refusal", list(REFUSED_APPLICATIONS))
async def test_a_refused_application_raises_its_class(
    ciam_test_server: CiamTestServer, kind: str, refusal: str
) -> None:
    app_type, secret, error_class, status, code = REFUSED_APPLICATIONS[refusal]
    registered = ciam_test_server.create_application(app_type)
    app = RegisteredApplication(
        client_id=registered.client_id, client_secret=secret, app_type=registered.app_type
    )

    with pytest.raises(APIStatusError) as raised:
        await call(ciam_test_server, app, kind, lambda sdk: sdk.send_otp(email="ada@example.com"))

    assert type(raised.value) is error_class
    assert (raised.value.status_code, raised.value.code) == (status, code)
    assert ciam_test_server.outbox.messages == []
