"""The SDK against the real server, in this process (the server's test kit, docs/testing.md):
each answer the server really gives arrives as the SDK's documented result or exception, through
the sync and the async client alike."""

from __future__ import annotations

import pytest

from ciam_client import (
    AbnormalUserStatusError,
    AsyncCiamClient,
    BadEmailOtpError,
    BadEmailOtpTokenError,
    CiamClient,
    EmailRateLimitExceededError,
    InvalidClientError,
    RecurrentPasswordError,
)
from ciam_server.testing import CiamTestServer, PasswordChangedNotice, RegisteredUser

NEW_PASSWORD = "Lantern-harbour-58"


def email(user: RegisteredUser) -> str:
    return user.email


def test_a_reset(ciam_test_server: CiamTestServer, ciam: CiamClient, user: RegisteredUser) -> None:
    sent = ciam.send_otp(email=user.email)
    code = ciam_test_server.last_code(user.email).code

    ciam.reset_user_password(
        email=user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
    )

    assert ciam_test_server.password_matches(user.email, NEW_PASSWORD)
    notice = ciam_test_server.last_notice(user.email, PasswordChangedNotice)
    assert notice.changed_at == ciam_test_server.clock()


async def test_a_reset_with_the_async_client(
    ciam_test_server: CiamTestServer, async_ciam: AsyncCiamClient, user: RegisteredUser
) -> None:
    sent = await async_ciam.send_otp(phone_number=user.phone_number)
    code = ciam_test_server.last_code(user.phone_number).code

    await async_ciam.reset_user_password(
        phone_number=user.phone_number, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
    )

    assert ciam_test_server.password_matches(user.phone_number, NEW_PASSWORD)


def test_wrong_credentials(ciam_test_server: CiamTestServer, user: RegisteredUser) -> None:
    app = ciam_test_server.create_application("web")
    with (
        ciam_test_server.http_client() as http,
        CiamClient(
            base_url=ciam_test_server.transport_url,
            client_id=app.client_id,
            client_secret="not-the-secret",
            http_client=http,
        ) as ciam,
        pytest.raises(InvalidClientError),
    ):
        ciam.send_otp(email=user.email)


def test_a_wrong_code_then_an_expired_one(
    ciam_test_server: CiamTestServer, ciam: CiamClient, user: RegisteredUser
) -> None:
    sent = ciam.send_otp(email=user.email)
    code = ciam_test_server.last_code(user.email).code
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with pytest.raises(BadEmailOtpError):
        ciam.reset_user_password(
            email=user.email, otp=wrong, otp_token=sent.otp_token, password=NEW_PASSWORD
        )

    ciam_test_server.clock.advance(ciam_test_server.settings.otp_token_ttl)

    with pytest.raises(BadEmailOtpTokenError):
        ciam.reset_user_password(
            email=user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )


async def test_the_send_interval_is_a_rate_limit_with_its_wait(
    ciam_test_server: CiamTestServer, async_ciam: AsyncCiamClient, user: RegisteredUser
) -> None:
    await async_ciam.send_otp(email=user.email)
    ciam_test_server.clock.advance(10)

    with pytest.raises(EmailRateLimitExceededError) as refused:
        await async_ciam.send_otp(email=user.email)

    assert refused.value.retry_after == ciam_test_server.settings.otp_send_interval - 10
    ciam_test_server.clock.advance(refused.value.retry_after)
    assert (await async_ciam.send_otp(email=user.email)).expires_in == 600


def test_a_frozen_user(
    ciam_test_server: CiamTestServer, ciam: CiamClient, user: RegisteredUser
) -> None:
    sent = ciam.send_otp(email=user.email)
    ciam_test_server.freeze_user(user.email)

    with pytest.raises(AbnormalUserStatusError):
        ciam.reset_user_password(
            email=user.email,
            otp=ciam_test_server.last_code(user.email).code,
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )


@pytest.mark.ciam_settings(password_history=2)
def test_a_recent_password(
    ciam_test_server: CiamTestServer, ciam: CiamClient, user: RegisteredUser
) -> None:
    sent = ciam.send_otp(email=user.email)

    with pytest.raises(RecurrentPasswordError):
        ciam.reset_user_password(
            email=user.email,
            otp=ciam_test_server.last_code(user.email).code,
            otp_token=sent.otp_token,
            password=user.password,
        )
