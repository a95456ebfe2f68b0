"""Expired codes and tokens, at the second they expire, on the test kit's server: its clock is
moved, nothing waits.

Before the clock moves, the same code and token are shown to be good (a too-short password is
refused only after the token and the code were accepted), so the refusal after it is the
expiry's doing.
"""

from __future__ import annotations

from datetime import timedelta

from ciam_client import (
    BadEmailOtpError,
    BadEmailOtpTokenError,
    BadPhoneNumberOtpError,
    BadPhoneNumberOtpTokenError,
    CiamClient,
    InvalidNewPasswordError,
)
from ciam_server.testing import CiamTestServer

from .conftest import NEW_PASSWORD, api_error

SECOND = timedelta(seconds=1)


def _still_good(ciam: CiamClient, token: str, code: str, **address: str) -> None:
    """The code and token are accepted: a too-short password is refused only after them."""
    with api_error(InvalidNewPasswordError, status=400, code="invalid_new_password"):
        ciam.reset_user_password(**address, otp=code, otp_token=token, password="short")


def _send_and_check(server: CiamTestServer, ciam: CiamClient, **address: str) -> tuple[str, str]:
    """Send a code and prove it good; return its token and the code."""
    (to,) = address.values()
    sent = ciam.send_otp(**address)
    code = server.last_code(to).code
    _still_good(ciam, sent.otp_token, code, **address)
    return sent.otp_token, code


def test_a_code_expires_after_its_lifetime(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient
) -> None:
    user = ciam_test_server.create_user()
    code_ttl = timedelta(seconds=ciam_test_server.settings.otp_code_ttl)
    token, code = _send_and_check(ciam_test_server, kit_ciam, email=user.email)
    by_phone = _send_and_check(ciam_test_server, kit_ciam, phone_number=user.phone_number)

    ciam_test_server.clock.advance(code_ttl - SECOND)
    _still_good(kit_ciam, token, code, email=user.email)  # a second before: still good
    ciam_test_server.clock.advance(SECOND)

    with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
        kit_ciam.reset_user_password(
            email=user.email, otp=code, otp_token=token, password=NEW_PASSWORD
        )
    with api_error(BadPhoneNumberOtpError, status=400, code="bad_phone_number_otp"):
        kit_ciam.reset_user_password(
            phone_number=user.phone_number,
            otp=by_phone[1],
            otp_token=by_phone[0],
            password=NEW_PASSWORD,
        )


def test_a_token_expires_after_its_lifetime(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient
) -> None:
    user = ciam_test_server.create_user()
    token_ttl = timedelta(seconds=ciam_test_server.settings.otp_token_ttl)
    by_email = _send_and_check(ciam_test_server, kit_ciam, email=user.email)
    by_phone = _send_and_check(ciam_test_server, kit_ciam, phone_number=user.phone_number)

    ciam_test_server.clock.advance(token_ttl)

    with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
        kit_ciam.reset_user_password(
            email=user.email, otp=by_email[1], otp_token=by_email[0], password=NEW_PASSWORD
        )
    with api_error(BadPhoneNumberOtpTokenError, status=400, code="bad_phone_number_otp_token"):
        kit_ciam.reset_user_password(
            phone_number=user.phone_number,
            otp=by_phone[1],
            otp_token=by_phone[0],
            password=NEW_PASSWORD,
        )
