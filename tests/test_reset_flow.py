"""The whole reset, SDK to server: a code is sent, read from the outbox, and the password reset."""

from __future__ import annotations

import pytest

from ciam_client import (
    AsyncCiamClient,
    CiamClient,
    InvalidNewPasswordError,
    RecurrentPasswordError,
)

from .conftest import DEFAULT_PASSWORD, NEW_PASSWORD, App, Server, User, api_error


def test_reset_by_email(server: Server, ciam: CiamClient, new_user: User) -> None:
    sent = ciam.send_otp(email=new_user.email)
    assert sent.expires_in == 600

    ciam.reset_user_password(
        email=new_user.email,
        otp=server.last_code(new_user.email),
        otp_token=sent.otp_token,
        password=NEW_PASSWORD,
    )

    assert server.password_matches(new_user, NEW_PASSWORD)
    assert not server.password_matches(new_user, DEFAULT_PASSWORD)


def test_reset_by_phone_number(server: Server, ciam: CiamClient, new_user: User) -> None:
    sent = ciam.send_otp(phone_number=new_user.phone_number)

    ciam.reset_user_password(
        phone_number=new_user.phone_number,
        otp=server.last_code(new_user.phone_number),
        otp_token=sent.otp_token,
        password=NEW_PASSWORD,
    )

    assert server.password_matches(new_user, NEW_PASSWORD)
    assert not server.password_matches(new_user, DEFAULT_PASSWORD)


async def test_reset_by_email_async(server: Server, web_app: App, new_user: User) -> None:
    async with AsyncCiamClient(
        base_url=server.base_url, client_id=web_app.client_id, client_secret=web_app.client_secret
    ) as ciam:
        sent = await ciam.send_otp(email=new_user.email)
        await ciam.reset_user_password(
            email=new_user.email,
            otp=server.last_code(new_user.email),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )

    assert server.password_matches(new_user, NEW_PASSWORD)
    assert not server.password_matches(new_user, DEFAULT_PASSWORD)


async def test_reset_by_phone_number_async(server: Server, web_app: App, new_user: User) -> None:
    async with AsyncCiamClient(
        base_url=server.base_url, client_id=web_app.client_id, client_secret=web_app.client_secret
    ) as ciam:
        sent = await ciam.send_otp(phone_number=new_user.phone_number)
        await ciam.reset_user_password(
            phone_number=new_user.phone_number,
            otp=server.last_code(new_user.phone_number),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )

    assert server.password_matches(new_user, NEW_PASSWORD)
    assert not server.password_matches(new_user, DEFAULT_PASSWORD)


@pytest.mark.parametrize("app_type", ["spa", "mobile"])
def test_a_public_app_resets_with_its_client_id_alone(
    server: Server, new_user: User, app_type: str
) -> None:
    app = server.create_app(app_type, allow_otp_send=True)
    assert app.client_secret is None

    with CiamClient(base_url=server.base_url, client_id=app.client_id) as ciam:
        sent = ciam.send_otp(email=new_user.email)
        ciam.reset_user_password(
            email=new_user.email,
            otp=server.last_code(new_user.email),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )

    assert server.password_matches(new_user, NEW_PASSWORD)
    assert not server.password_matches(new_user, DEFAULT_PASSWORD)


def test_addresses_are_matched_in_normalized_form(
    server: Server, ciam: CiamClient, new_user: User
) -> None:
    # The code goes to the address as typed; the reset names it in another spelling.
    shouting = new_user.email.upper()
    sent = ciam.send_otp(email=shouting)
    ciam.reset_user_password(
        email=new_user.email,
        otp=server.last_code(new_user.email),
        otp_token=sent.otp_token,
        password=NEW_PASSWORD,
    )
    assert server.password_matches(new_user, NEW_PASSWORD)

    # An 11-digit mainland number without its country code is the same +86 number.
    national = new_user.phone_number.removeprefix("+86")
    sent = ciam.send_otp(phone_number=national)
    ciam.reset_user_password(
        phone_number=new_user.phone_number,
        otp=server.last_code(new_user.phone_number),
        otp_token=sent.otp_token,
        password=DEFAULT_PASSWORD + "!",
    )
    assert server.password_matches(new_user, DEFAULT_PASSWORD + "!")


def test_the_user_is_told_the_password_changed(
    server: Server, ciam: CiamClient, new_user: User
) -> None:
    sent = ciam.send_otp(email=new_user.email)
    assert [m["usage"] for m in server.messages(new_user.email)] == ["reset_password"]

    ciam.reset_user_password(
        email=new_user.email,
        otp=server.last_code(new_user.email),
        otp_token=sent.otp_token,
        password=NEW_PASSWORD,
    )

    notices = server.messages(new_user.email)[1:]
    assert [m["usage"] for m in notices] == ["password_changed"]
    assert "code" not in notices[0]


def test_a_refused_new_password_leaves_the_code_usable(
    server: Server, ciam: CiamClient, new_user: User
) -> None:
    sent = ciam.send_otp(email=new_user.email)
    code = server.last_code(new_user.email)

    with api_error(InvalidNewPasswordError, status=400, code="invalid_new_password"):
        ciam.reset_user_password(
            email=new_user.email, otp=code, otp_token=sent.otp_token, password="short"
        )
    with api_error(RecurrentPasswordError, status=400, code="recurrent_password"):
        ciam.reset_user_password(
            email=new_user.email, otp=code, otp_token=sent.otp_token, password=DEFAULT_PASSWORD
        )
    ciam.reset_user_password(
        email=new_user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
    )

    assert server.password_matches(new_user, NEW_PASSWORD)


def test_a_previous_password_cannot_come_back(
    server: Server, ciam: CiamClient, new_user: User
) -> None:
    sent = ciam.send_otp(email=new_user.email)
    ciam.reset_user_password(
        email=new_user.email,
        otp=server.last_code(new_user.email),
        otp_token=sent.otp_token,
        password=NEW_PASSWORD,
    )

    sent = ciam.send_otp(email=new_user.email)
    with api_error(RecurrentPasswordError, status=400, code="recurrent_password"):
        ciam.reset_user_password(
            email=new_user.email,
            otp=server.last_code(new_user.email),
            otp_token=sent.otp_token,
            password=DEFAULT_PASSWORD,
        )
    assert server.password_matches(new_user, NEW_PASSWORD)
