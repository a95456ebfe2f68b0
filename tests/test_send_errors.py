"""Every refusal of ``/otp/send``, each reached by a real scenario."""

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

from .conftest import Server, api_error, unique_email


@pytest.mark.parametrize(
    "email",
    ["not-an-address", "someone@localhost", "two@@example.com", "trailing@example.com ", " "],
)
def test_a_malformed_email(server: Server, ciam: CiamClient, email: str) -> None:
    with api_error(MalformedEmailError, status=400, code="malformed_email"):
        ciam.send_otp(email=email)
    assert server.messages(email) == []


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
def test_a_malformed_phone_number(server: Server, ciam: CiamClient, phone_number: str) -> None:
    with api_error(MalformedPhoneNumberError, status=400, code="malformed_phone_number"):
        ciam.send_otp(phone_number=phone_number)


@pytest.mark.parametrize(
    ("phone_number", "read_as"),
    [
        ("+86138OO138OOO", "+8613866138666"),  # the letter O typed for the digit 0
        ("+86 138 0013 ABCD", "+8613800132223"),
        ("+8613800138000x", "+8613800138000"),
    ],
)
def test_letters_in_a_phone_number_make_it_malformed(
    server: Server, ciam: CiamClient, phone_number: str, read_as: str
) -> None:
    """Letters are not read as the digits of a phone keypad: a mistyped number must be refused,
    not sent to whoever has the number the letters spell."""
    sent_before = len(server.messages(read_as))

    with api_error(MalformedPhoneNumberError, status=400, code="malformed_phone_number"):
        ciam.send_otp(phone_number=phone_number)
    assert len(server.messages(read_as)) == sent_before


@pytest.mark.parametrize("app_type", ["spa", "mobile"])
def test_a_public_app_not_enabled_to_send(server: Server, app_type: str) -> None:
    app = server.create_app(app_type)
    email = unique_email()

    with (
        server.client(app) as ciam,
        api_error(UnauthorizedClientError, status=400, code="unauthorized_client"),
    ):
        ciam.send_otp(email=email)
    assert server.messages(email) == []


@pytest.mark.parametrize("usage", [Usage.LOGIN, Usage.SIGNUP, Usage.UPDATE_USERINFO, "other"])
def test_only_reset_codes_are_sent(ciam: CiamClient, usage: str) -> None:
    with api_error(InvalidRequestError, status=400, code="invalid_request") as error:
        ciam.send_otp(email=unique_email(), usage=usage)
    assert "usage" in (error.value.description or "")


def test_an_empty_email_is_an_invalid_request(ciam: CiamClient) -> None:
    with api_error(InvalidRequestError, status=400, code="invalid_request") as error:
        ciam.send_otp(email="")
    assert "email" in (error.value.description or "")
