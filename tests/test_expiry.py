"""Expired codes and tokens, on a server whose codes live 1 s and tokens 3 s.

Before each wait, the same code and token are shown to be good (a too-short password is refused
only after the token and the code were accepted), so the refusal after it is the expiry's doing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ciam_client import (
    BadEmailOtpError,
    BadEmailOtpTokenError,
    BadPhoneNumberOtpError,
    BadPhoneNumberOtpTokenError,
    CiamClient,
    InvalidNewPasswordError,
)

from .conftest import NEW_PASSWORD, Server, User, api_error

CODE_TTL = 1.0
TOKEN_TTL = 3.0
MARGIN = 0.3


@pytest.fixture(scope="module")
def short_lived_ciam(short_lived_server: Server) -> Iterator[CiamClient]:
    with short_lived_server.client(short_lived_server.create_app("web")) as client:
        yield client


@pytest.fixture
def short_lived_user(short_lived_server: Server) -> User:
    return short_lived_server.create_user()


def _send_and_check(server: Server, ciam: CiamClient, **address: str) -> tuple[str, str]:
    """Send a code and prove it good at once; return its token and the code."""
    (to,) = address.values()
    sent = ciam.send_otp(**address)
    code = server.last_code(to)
    with api_error(InvalidNewPasswordError, status=400, code="invalid_new_password"):
        ciam.reset_user_password(**address, otp=code, otp_token=sent.otp_token, password="short")
    return sent.otp_token, code


def test_an_expired_code(
    short_lived_server: Server, short_lived_ciam: CiamClient, short_lived_user: User
) -> None:
    email, phone_number = short_lived_user.email, short_lived_user.phone_number
    started = time.monotonic()
    by_email = _send_and_check(short_lived_server, short_lived_ciam, email=email)
    by_phone = _send_and_check(short_lived_server, short_lived_ciam, phone_number=phone_number)

    time.sleep(CODE_TTL + MARGIN)

    with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
        short_lived_ciam.reset_user_password(
            email=email, otp=by_email[1], otp_token=by_email[0], password=NEW_PASSWORD
        )
    with api_error(BadPhoneNumberOtpError, status=400, code="bad_phone_number_otp"):
        short_lived_ciam.reset_user_password(
            phone_number=phone_number, otp=by_phone[1], otp_token=by_phone[0], password=NEW_PASSWORD
        )
    assert time.monotonic() - started < TOKEN_TTL, "too slow: the tokens may have expired too"


def test_an_expired_token(
    short_lived_server: Server, short_lived_ciam: CiamClient, short_lived_user: User
) -> None:
    email, phone_number = short_lived_user.email, short_lived_user.phone_number
    by_email = _send_and_check(short_lived_server, short_lived_ciam, email=email)
    by_phone = _send_and_check(short_lived_server, short_lived_ciam, phone_number=phone_number)

    time.sleep(TOKEN_TTL + MARGIN)

    with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
        short_lived_ciam.reset_user_password(
            email=email, otp=by_email[1], otp_token=by_email[0], password=NEW_PASSWORD
        )
    with api_error(BadPhoneNumberOtpTokenError, status=400, code="bad_phone_number_otp_token"):
        short_lived_ciam.reset_user_password(
            phone_number=phone_number, otp=by_phone[1], otp_token=by_phone[0], password=NEW_PASSWORD
        )
