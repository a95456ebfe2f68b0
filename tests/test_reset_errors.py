"""Every refusal of ``/reset_user_password``, each reached by a real scenario.

The scenarios run on the server's test kit (docs/testing.md), a server of each test's own: the
users and applications are the test's alone. Freezing with the ``ciam-server users`` commands
runs on a server process, as an operator meets it.
"""

from __future__ import annotations

import pytest

from ciam_client import (
    AbnormalUserStatusError,
    AsyncCiamClient,
    BadEmailOtpError,
    BadEmailOtpTokenError,
    BadPhoneNumberOtpError,
    BadPhoneNumberOtpTokenError,
    CiamClient,
    InvalidNewPasswordError,
    InvalidRequestError,
    MalformedEmailError,
    MalformedPhoneNumberError,
    RecurrentPasswordError,
    UserNotFoundError,
)
from ciam_server.testing import CiamTestServer, RegisteredApplication, RegisteredUser

from .conftest import (
    DEFAULT_PASSWORD,
    NEW_PASSWORD,
    Server,
    User,
    api_error,
    kit_client,
    unique_email,
    unique_phone_number,
    wrong_code,
)

Kit = CiamTestServer


@pytest.fixture
def bystander(ciam_test_server: Kit) -> RegisteredUser:
    """A second user of the test's server, besides ``kit_user``."""
    return ciam_test_server.create_user()


# --- the user -----------------------------------------------------------------------------------


def test_a_frozen_user_cannot_reset_until_unfrozen(
    server: Server, ciam: CiamClient, new_user: User
) -> None:
    server.cli("users", "freeze", "--email", new_user.email)
    # Sending answers as for anyone: it tells nothing about the account.
    sent = ciam.send_otp(email=new_user.email)
    code = server.last_code(new_user.email)

    with api_error(AbnormalUserStatusError, status=400, code="abnormal_user_status") as error:
        ciam.reset_user_password(
            email=new_user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )
    assert error.value.description == "User is frozen."
    assert server.password_matches(new_user, DEFAULT_PASSWORD)

    server.cli("users", "unfreeze", "--email", new_user.email)
    sent = ciam.send_otp(email=new_user.email)
    ciam.reset_user_password(
        email=new_user.email,
        otp=server.last_code(new_user.email),
        otp_token=sent.otp_token,
        password=NEW_PASSWORD,
    )
    assert server.password_matches(new_user, NEW_PASSWORD)


def test_a_user_frozen_by_phone_number_cannot_reset_by_phone(
    ciam_test_server: Kit, kit_ciam: CiamClient, kit_user: RegisteredUser
) -> None:
    ciam_test_server.freeze_user(kit_user.phone_number)
    sent = kit_ciam.send_otp(phone_number=kit_user.phone_number)

    with api_error(AbnormalUserStatusError, status=400, code="abnormal_user_status") as error:
        kit_ciam.reset_user_password(
            phone_number=kit_user.phone_number,
            otp=ciam_test_server.last_code(kit_user.phone_number).code,
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
    assert error.value.description == "User is frozen."
    assert ciam_test_server.password_matches(kit_user.phone_number, DEFAULT_PASSWORD)


@pytest.mark.parametrize("channel", ["email", "phone_number"])
def test_an_address_without_an_account_gets_a_code_but_no_reset(
    ciam_test_server: Kit, kit_ciam: CiamClient, bystander: RegisteredUser, channel: str
) -> None:
    address = unique_email() if channel == "email" else unique_phone_number()

    sent = kit_ciam.send_otp(**{channel: address})
    # The same answer as for an address with an account: nothing to enumerate.
    known = kit_ciam.send_otp(**{channel: getattr(bystander, channel)})
    assert sent.expires_in == known.expires_in
    assert len(sent.otp_token) == len(known.otp_token)
    code = ciam_test_server.last_code(address).code

    with api_error(UserNotFoundError, status=400, code="user_not_found"):
        kit_ciam.reset_user_password(
            **{channel: address}, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )


# --- the new password ---------------------------------------------------------------------------


def test_the_current_password_is_refused(
    ciam_test_server: Kit, kit_ciam: CiamClient, bystander: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(email=bystander.email)

    with api_error(RecurrentPasswordError, status=400, code="recurrent_password"):
        kit_ciam.reset_user_password(
            email=bystander.email,
            otp=ciam_test_server.last_code(bystander.email).code,
            otp_token=sent.otp_token,
            password=bystander.password,
        )
    assert ciam_test_server.password_matches(bystander.email, bystander.password)


@pytest.mark.parametrize(
    ("template", "rule"),
    [
        pytest.param("Kt-73", "at least 8", id="too short"),
        pytest.param("K" * 129, "at most 128", id="too long"),
        pytest.param("password123", "common", id="common"),
        pytest.param("PASSWORD123", "common", id="common, other case"),
        pytest.param("iloveyou1", "common", id="common, another"),
        pytest.param("Kettle\x07sunrise-73", "control", id="control character"),
        pytest.param("{local_part}-73!", "email", id="contains the email"),
        pytest.param("Kettle-{national_number}", "phone", id="contains the phone number"),
    ],
)
def test_a_weak_password_is_refused_naming_the_rule(
    ciam_test_server: Kit,
    kit_ciam: CiamClient,
    bystander: RegisteredUser,
    template: str,
    rule: str,
) -> None:
    password = template.format(
        local_part=bystander.email.partition("@")[0],
        national_number=bystander.phone_number.removeprefix("+86"),
    )
    sent = kit_ciam.send_otp(email=bystander.email)

    with api_error(InvalidNewPasswordError, status=400, code="invalid_new_password") as error:
        kit_ciam.reset_user_password(
            email=bystander.email,
            otp=ciam_test_server.last_code(bystander.email).code,
            otp_token=sent.otp_token,
            password=password,
        )
    assert rule in (error.value.description or "")
    assert ciam_test_server.password_matches(bystander.email, bystander.password)


# --- the code and its token ---------------------------------------------------------------------


def test_a_wrong_email_code(
    ciam_test_server: Kit, kit_ciam: CiamClient, bystander: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(email=bystander.email)

    with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
        kit_ciam.reset_user_password(
            email=bystander.email,
            otp=wrong_code(ciam_test_server.last_code(bystander.email).code),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )


def test_a_wrong_phone_code(
    ciam_test_server: Kit, kit_ciam: CiamClient, bystander: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(phone_number=bystander.phone_number)

    with api_error(BadPhoneNumberOtpError, status=400, code="bad_phone_number_otp"):
        kit_ciam.reset_user_password(
            phone_number=bystander.phone_number,
            otp=wrong_code(ciam_test_server.last_code(bystander.phone_number).code),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )


async def test_the_async_client_raises_the_same_exceptions(
    ciam_test_server: Kit, kit_web_app: RegisteredApplication, bystander: RegisteredUser
) -> None:
    async with (
        ciam_test_server.async_http_client() as http,
        AsyncCiamClient(
            base_url=ciam_test_server.transport_url,
            client_id=kit_web_app.client_id,
            client_secret=kit_web_app.client_secret,
            http_client=http,
        ) as ciam,
    ):
        sent = await ciam.send_otp(email=bystander.email)
        code = ciam_test_server.last_code(bystander.email).code
        with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
            await ciam.reset_user_password(
                email=bystander.email,
                otp=wrong_code(code),
                otp_token=sent.otp_token,
                password=NEW_PASSWORD,
            )
        with api_error(RecurrentPasswordError, status=400, code="recurrent_password"):
            await ciam.reset_user_password(
                email=bystander.email,
                otp=code,
                otp_token=sent.otp_token,
                password=bystander.password,
            )


def test_a_code_for_one_address_cannot_reset_another(
    ciam_test_server: Kit,
    kit_ciam: CiamClient,
    bystander: RegisteredUser,
    kit_user: RegisteredUser,
) -> None:
    """The holder of one mailbox cannot use its code on someone else's account."""
    sent = kit_ciam.send_otp(email=bystander.email)

    with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
        kit_ciam.reset_user_password(
            email=kit_user.email,
            otp=ciam_test_server.last_code(bystander.email).code,
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
    assert ciam_test_server.password_matches(kit_user.email, DEFAULT_PASSWORD)


def test_a_code_for_one_phone_number_cannot_reset_another(
    ciam_test_server: Kit,
    kit_ciam: CiamClient,
    bystander: RegisteredUser,
    kit_user: RegisteredUser,
) -> None:
    sent = kit_ciam.send_otp(phone_number=bystander.phone_number)

    with api_error(BadPhoneNumberOtpTokenError, status=400, code="bad_phone_number_otp_token"):
        kit_ciam.reset_user_password(
            phone_number=kit_user.phone_number,
            otp=ciam_test_server.last_code(bystander.phone_number).code,
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
    assert ciam_test_server.password_matches(kit_user.email, DEFAULT_PASSWORD)


def test_an_email_code_cannot_be_used_by_phone(
    ciam_test_server: Kit, kit_ciam: CiamClient, bystander: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(email=bystander.email)

    with api_error(BadPhoneNumberOtpTokenError, status=400, code="bad_phone_number_otp_token"):
        kit_ciam.reset_user_password(
            phone_number=bystander.phone_number,
            otp=ciam_test_server.last_code(bystander.email).code,
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )


def test_a_code_sent_for_one_app_cannot_be_used_by_another(
    ciam_test_server: Kit,
    kit_ciam: CiamClient,
    kit_spa_app: RegisteredApplication,
    bystander: RegisteredUser,
) -> None:
    sent = kit_ciam.send_otp(email=bystander.email)

    with (
        kit_client(ciam_test_server, kit_spa_app) as other_app,
        api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"),
    ):
        other_app.reset_user_password(
            email=bystander.email,
            otp=ciam_test_server.last_code(bystander.email).code,
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )


def test_an_unknown_token(
    ciam_test_server: Kit, kit_ciam: CiamClient, bystander: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(email=bystander.email)

    with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
        kit_ciam.reset_user_password(
            email=bystander.email,
            otp=ciam_test_server.last_code(bystander.email).code,
            otp_token=sent.otp_token[::-1],
            password=NEW_PASSWORD,
        )


def test_too_many_wrong_codes_kill_the_token(
    ciam_test_server: Kit, kit_ciam: CiamClient, bystander: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(email=bystander.email)
    code = ciam_test_server.last_code(bystander.email).code

    for _ in range(5):
        with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
            kit_ciam.reset_user_password(
                email=bystander.email,
                otp=wrong_code(code),
                otp_token=sent.otp_token,
                password=NEW_PASSWORD,
            )
    with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
        kit_ciam.reset_user_password(
            email=bystander.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )
    assert ciam_test_server.password_matches(bystander.email, bystander.password)


def test_fewer_wrong_codes_than_the_limit_leave_the_token_alive(
    ciam_test_server: Kit, kit_ciam: CiamClient, kit_user: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(email=kit_user.email)
    code = ciam_test_server.last_code(kit_user.email).code

    for _ in range(4):
        with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
            kit_ciam.reset_user_password(
                email=kit_user.email,
                otp=wrong_code(code),
                otp_token=sent.otp_token,
                password=NEW_PASSWORD,
            )
    kit_ciam.reset_user_password(
        email=kit_user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
    )
    assert ciam_test_server.password_matches(kit_user.email, NEW_PASSWORD)


def test_a_token_works_once(
    ciam_test_server: Kit, kit_ciam: CiamClient, kit_user: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(email=kit_user.email)
    code = ciam_test_server.last_code(kit_user.email).code
    kit_ciam.reset_user_password(
        email=kit_user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
    )

    with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
        kit_ciam.reset_user_password(
            email=kit_user.email, otp=code, otp_token=sent.otp_token, password="Other-pass-4821"
        )
    assert ciam_test_server.password_matches(kit_user.email, NEW_PASSWORD)


def test_a_newer_code_retires_the_older_token(
    ciam_test_server: Kit, kit_ciam: CiamClient, kit_user: RegisteredUser
) -> None:
    older = kit_ciam.send_otp(email=kit_user.email)
    older_code = ciam_test_server.last_code(kit_user.email).code
    ciam_test_server.clock.advance(ciam_test_server.settings.otp_send_interval)
    newer = kit_ciam.send_otp(email=kit_user.email)
    newer_code = ciam_test_server.last_code(kit_user.email).code

    with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
        kit_ciam.reset_user_password(
            email=kit_user.email, otp=older_code, otp_token=older.otp_token, password=NEW_PASSWORD
        )
    kit_ciam.reset_user_password(
        email=kit_user.email, otp=newer_code, otp_token=newer.otp_token, password=NEW_PASSWORD
    )
    assert ciam_test_server.password_matches(kit_user.email, NEW_PASSWORD)


# --- the request --------------------------------------------------------------------------------


def test_a_malformed_email_on_reset(kit_ciam: CiamClient) -> None:
    with api_error(MalformedEmailError, status=400, code="malformed_email"):
        kit_ciam.reset_user_password(
            email="not-an-address", otp="123456", otp_token="token", password=NEW_PASSWORD
        )


def test_a_malformed_phone_number_on_reset(kit_ciam: CiamClient) -> None:
    with api_error(MalformedPhoneNumberError, status=400, code="malformed_phone_number"):
        kit_ciam.reset_user_password(
            phone_number="12345", otp="123456", otp_token="token", password=NEW_PASSWORD
        )


def test_an_empty_code_is_an_invalid_request(
    kit_ciam: CiamClient, bystander: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(email=bystander.email)

    with api_error(InvalidRequestError, status=400, code="invalid_request") as error:
        kit_ciam.reset_user_password(
            email=bystander.email, otp="", otp_token=sent.otp_token, password=NEW_PASSWORD
        )
    assert "email_otp" in (error.value.description or "")


def test_sdk_errors_never_show_what_was_sent(
    ciam_test_server: Kit, kit_web_app: RegisteredApplication, bystander: RegisteredUser
) -> None:
    """The password, the code, the token and the client secret stay out of an error's text."""
    password = "Kt-73"  # too short: refused after the code and token were checked
    with kit_client(ciam_test_server, kit_web_app) as ciam:
        sent = ciam.send_otp(email=bystander.email)
        code = ciam_test_server.last_code(bystander.email).code
        with api_error(InvalidNewPasswordError, status=400, code="invalid_new_password") as error:
            ciam.reset_user_password(
                email=bystander.email, otp=code, otp_token=sent.otp_token, password=password
            )

    shown = f"{error.value} {error.value!r} {error.value.description} {ciam!r}"
    assert error.value.request_id is not None
    assert error.value.request_id in str(error.value)
    assert kit_web_app.client_secret is not None
    for secret in (password, code, sent.otp_token, kit_web_app.client_secret):
        assert secret not in shown
