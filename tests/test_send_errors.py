"""Every refusal of ``/otp/send``, each reached by a real scenario.

The scenarios run on the server's test kit (docs/testing.md), a server of each test's own; an
empty address is also refused by a server process, on a real socket.
"""

from __future__ import annotations

import pytest

from ciam_client import (
    CiamClient,
    InvalidRequestError,
    MalformedEmailError,
    MalformedPhoneNumberError,
    UnauthorizedClientError,
    Usage,
)
from ciam_server.testing import CiamTestServer

from .conftest import api_error, kit_client, unique_email


@pytest.mark.parametrize(
    "email",
    ["not-an-address", "someone@localhost", "two@@example.com", "trailing@example.com ", " "],
)
def test_a_malformed_email(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient, email: str
) -> None:
    with api_error(MalformedEmailError, status=400, code="malformed_email"):
        kit_ciam.send_otp(email=email)
    assert ciam_test_server.outbox.messages == []


@pytest.mark.parametrize(
    "phone_number",
    [
        "12345",  # too short, no country code
        "+8612345",  # too short for China
        "138001380001",  # 12 digits without a country code
        "+999123456789",  # no such country code
        "+15550100",  # not a valid US number
        "abc",
    ],
)
def test_a_malformed_phone_number(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient, phone_number: str
) -> None:
    with api_error(MalformedPhoneNumberError, status=400, code="malformed_phone_number"):
        kit_ciam.send_otp(phone_number=phone_number)
    assert ciam_test_server.outbox.messages == []


@pytest.mark.parametrize(
    ("phone_number", "read_as"),
    [
        ("+86138OO138OOO", "+8613866138666"),  # the letter O typed for the digit 0
        ("+86 138 0013 ABCD", "+8613800132223"),
        ("+8613800138000x", "+8613800138000"),
    ],
)
def test_letters_in_a_phone_number_make_it_malformed(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient, phone_number: str, read_as: str
) -> None:
    """Letters are not read as the digits of a phone keypad: a mistyped number must be refused,
    not sent to whoever has the number the letters spell."""
    ciam_test_server.create_user(phone_number=read_as)

    with api_error(MalformedPhoneNumberError, status=400, code="malformed_phone_number"):
        kit_ciam.send_otp(phone_number=phone_number)
    assert ciam_test_server.outbox.sent_to(read_as) == []
    assert ciam_test_server.outbox.messages == []


@pytest.mark.parametrize("app_type", ["spa", "mobile"])
def test_a_public_app_not_enabled_to_send(ciam_test_server: CiamTestServer, app_type: str) -> None:
    app = ciam_test_server.create_application(app_type)
    email = unique_email()

    with (
        kit_client(ciam_test_server, app) as ciam,
        api_error(UnauthorizedClientError, status=400, code="unauthorized_client"),
    ):
        ciam.send_otp(email=email)
    assert ciam_test_server.outbox.sent_to(email) == []


@pytest.mark.parametrize("usage", [Usage.LOGIN, Usage.SIGNUP, Usage.UPDATE_USERINFO, "other"])
def test_only_reset_codes_are_sent(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient, usage: str
) -> None:
    with api_error(InvalidRequestError, status=400, code="invalid_request") as error:
        kit_ciam.send_otp(email=unique_email(), usage=usage)
    assert "usage" in (error.value.description or "")
    assert ciam_test_server.outbox.messages == []


def test_an_empty_email_is_an_invalid_request(ciam: CiamClient) -> None:
    with api_error(InvalidRequestError, status=400, code="invalid_request") as error:
        ciam.send_otp(email="")
    assert "email" in (error.value.description or "")
