"""The SDK's sign-in calls against the real app, in process through the test kit, whose clock
expires tokens and ends locks without waiting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ciam_client import (
    CiamClient,
    InvalidGrantError,
    InvalidTokenError,
    WrongOldPasswordError,
)
from ciam_server.testing import CiamTestServer, PasswordChangedNotice, RegisteredUser

NEW_PASSWORD = "Lantern-harbour-58"


def test_an_access_token_expires_and_a_refresh_rotates(
    ciam_test_server: CiamTestServer, ciam: CiamClient, user: RegisteredUser
) -> None:
    tokens = ciam.sign_in(username=user.email, password=user.password)
    assert tokens.refresh_token is not None
    assert ciam.userinfo(access_token=tokens.access_token).email == user.email

    # Past its lifetime and the few seconds of clock difference allowed between instances.
    ciam_test_server.clock.advance(timedelta(seconds=tokens.expires_in + 10))

    with pytest.raises(InvalidTokenError):
        ciam.userinfo(access_token=tokens.access_token)
    fresh = ciam.refresh(refresh_token=tokens.refresh_token)
    assert fresh.refresh_token is not None
    assert ciam.userinfo(access_token=fresh.access_token).email == user.email
    # The rotated-out token presented again ends the whole session.
    with pytest.raises(InvalidGrantError):
        ciam.refresh(refresh_token=tokens.refresh_token)
    with pytest.raises(InvalidGrantError):
        ciam.refresh(refresh_token=fresh.refresh_token)


def test_wrong_passwords_lock_the_username_until_the_lock_ends(
    ciam_test_server: CiamTestServer, ciam: CiamClient, user: RegisteredUser
) -> None:
    for _ in range(ciam_test_server.settings.sign_in_max_failures):
        with pytest.raises(InvalidGrantError):
            ciam.sign_in(username=user.email, password="Not-the-password-1")
    with pytest.raises(InvalidGrantError):
        ciam.sign_in(username=user.email, password=user.password)

    ciam_test_server.clock.advance(
        timedelta(seconds=ciam_test_server.settings.sign_in_lock_seconds + 1)
    )

    assert ciam.sign_in(username=user.email, password=user.password).access_token


def test_a_reset_ends_the_sessions_opened_before_it(
    ciam_test_server: CiamTestServer, ciam: CiamClient, user: RegisteredUser
) -> None:
    before = ciam.sign_in(username=user.email, password=user.password)
    assert before.refresh_token is not None
    sent = ciam.send_otp(email=user.email)
    code = ciam_test_server.last_code(user.email).code

    ciam.reset_user_password(
        email=user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
    )

    with pytest.raises(InvalidTokenError):
        ciam.userinfo(access_token=before.access_token)
    with pytest.raises(InvalidGrantError):
        ciam.refresh(refresh_token=before.refresh_token)
    with pytest.raises(InvalidGrantError):
        ciam.sign_in(username=user.email, password=user.password)
    assert ciam.sign_in(username=user.email, password=NEW_PASSWORD).access_token


def test_a_password_change_is_told_and_ends_the_old_password(
    ciam_test_server: CiamTestServer, ciam: CiamClient, user: RegisteredUser
) -> None:
    tokens = ciam.sign_in(username=user.email, password=user.password)
    with pytest.raises(WrongOldPasswordError):
        ciam.change_password(
            access_token=tokens.access_token,
            old_password="Not-the-password-1",
            new_password=NEW_PASSWORD,
        )

    ciam.change_password(
        access_token=tokens.access_token, old_password=user.password, new_password=NEW_PASSWORD
    )

    assert ciam_test_server.last_notice(user.email, PasswordChangedNotice).to == user.email
    assert ciam_test_server.password_matches(user.email, NEW_PASSWORD)
    with pytest.raises(InvalidTokenError):
        ciam.userinfo(access_token=tokens.access_token)
