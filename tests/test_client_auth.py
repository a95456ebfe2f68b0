"""Client authentication against the real server: the SDK, and raw HTTP Basic edge cases.

The cases run on the server's test kit (docs/testing.md), a server of each test's own; the
decoding of Basic credentials also on a server process, on a real socket."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import httpx
import pytest

from ciam_client import InvalidClientError
from ciam_server.testing import CiamTestServer, RegisteredApplication, RegisteredUser

from .conftest import (
    DEFAULT_PASSWORD,
    NEW_PASSWORD,
    App,
    Server,
    api_error,
    kit_client,
    unique_client_id,
    unique_email,
)

Kit = CiamTestServer

SPECIAL_CLIENT_ID = "a:b%c+d e"


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    """An Authorization header with the two parts exactly as given, not encoded further."""
    pair = f"{client_id}:{client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def percent_encode_all(text: str) -> str:
    """Every byte as %XX, letters and digits included: a decoder must undo all of it."""
    return "".join(f"%{byte:02X}" for byte in text.encode())


def send_otp_raw(http: httpx.Client, headers: dict[str, str], **body: str) -> httpx.Response:
    return http.post(
        "/otp/send",
        json={"usage": "reset_password", "email": unique_email(), **body},
        headers=headers,
    )


def assert_invalid_client(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.fixture(scope="module")
def special_app(server: Server) -> App:
    """A confidential application whose client_id holds ':', '%', '+' and a space."""
    return server.create_app("web", client_id=SPECIAL_CLIENT_ID)


@pytest.fixture
def kit_special_app(ciam_test_server: Kit) -> RegisteredApplication:
    """The same on the test's kit server."""
    return ciam_test_server.create_application("web", client_id=SPECIAL_CLIENT_ID)


@pytest.fixture
def raw(ciam_test_server: Kit) -> Iterator[httpx.Client]:
    """Plain HTTP to the test's kit server: the headers exactly as a test writes them."""
    with ciam_test_server.http_client() as http:
        yield http


# --- refusals through the SDK -------------------------------------------------------------------


def test_a_wrong_client_secret(
    ciam_test_server: Kit, kit_web_app: RegisteredApplication, raw: httpx.Client
) -> None:
    wrong = App(client_id=kit_web_app.client_id, client_secret="not-the-secret")

    with (
        kit_client(ciam_test_server, wrong) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client") as error,
    ):
        ciam.send_otp(email=unique_email())
    assert error.value.response.headers["WWW-Authenticate"].startswith("Basic")

    response = send_otp_raw(raw, basic(kit_web_app.client_id, "not-the-secret"))
    assert_invalid_client(response)
    assert ciam_test_server.outbox.messages == []


def test_a_wrong_client_secret_on_reset(
    ciam_test_server: Kit, kit_web_app: RegisteredApplication, kit_user: RegisteredUser
) -> None:
    with kit_client(ciam_test_server, kit_web_app) as ciam:
        sent = ciam.send_otp(email=kit_user.email)
    wrong = App(client_id=kit_web_app.client_id, client_secret=f"{kit_web_app.client_secret}x")

    with (
        kit_client(ciam_test_server, wrong) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client"),
    ):
        ciam.reset_user_password(
            email=kit_user.email,
            otp=ciam_test_server.last_code(kit_user.email).code,
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
    assert ciam_test_server.password_matches(kit_user.email, DEFAULT_PASSWORD)


@pytest.mark.parametrize("client_secret", [None, "some-secret"])
def test_an_unknown_client(ciam_test_server: Kit, client_secret: str | None) -> None:
    unknown = App(client_id=unique_client_id("unknown"), client_secret=client_secret)

    with (
        kit_client(ciam_test_server, unknown) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client") as error,
    ):
        ciam.send_otp(email=unique_email())
    assert error.value.response.headers["WWW-Authenticate"].startswith("Basic")
    assert ciam_test_server.outbox.messages == []


def test_a_confidential_app_without_its_secret(
    ciam_test_server: Kit, kit_web_app: RegisteredApplication
) -> None:
    without_secret = App(client_id=kit_web_app.client_id, client_secret=None)

    with (
        kit_client(ciam_test_server, without_secret) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client"),
    ):
        ciam.send_otp(email=unique_email())
    assert ciam_test_server.outbox.messages == []


def test_a_public_app_presenting_a_secret(
    ciam_test_server: Kit, kit_spa_app: RegisteredApplication
) -> None:
    with_secret = App(client_id=kit_spa_app.client_id, client_secret="made-up-secret")

    with (
        kit_client(ciam_test_server, with_secret) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client"),
    ):
        ciam.send_otp(email=unique_email())
    assert ciam_test_server.outbox.messages == []


# --- client ids and secrets with special characters ---------------------------------------------


@pytest.mark.parametrize(
    ("app_type", "client_id"),
    [
        ("web", "a:b%c+d e"),
        ("web", "plus+plus"),
        ("web", "100%25"),  # a literal "%25": decoded once, never twice
        ("web", "ünïcødé-клиент-日本語-🔑"),
        ("spa", "spa:ü+%20 é"),
    ],
)
def test_special_characters_in_the_client_id(
    ciam_test_server: Kit, kit_user: RegisteredUser, app_type: str, client_id: str
) -> None:
    app = ciam_test_server.create_application(app_type, client_id=client_id, allow_otp_send=True)
    assert (app.client_secret is None) == (app_type == "spa")

    with kit_client(ciam_test_server, app) as ciam:
        sent = ciam.send_otp(email=kit_user.email)
        ciam.reset_user_password(
            email=kit_user.email,
            otp=ciam_test_server.last_code(kit_user.email).code,
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )

    assert ciam_test_server.password_matches(kit_user.email, NEW_PASSWORD)


def test_basic_credentials_are_form_decoded(server: Server, special_app: App) -> None:
    assert special_app.client_secret is not None
    secret = special_app.client_secret

    with httpx.Client(base_url=server.base_url) as http:
        # The SDK's encoding: every reserved character as %XX.
        assert send_otp_raw(http, basic(quote(SPECIAL_CLIENT_ID, safe=""), secret)).is_success
        # Form encoding: the space as '+'.
        assert send_otp_raw(http, basic(quote_plus(SPECIAL_CLIENT_ID), secret)).is_success
        # Every byte of both parts percent-encoded, the secret's letters and digits too.
        encoded = basic(percent_encode_all(SPECIAL_CLIENT_ID), percent_encode_all(secret))
        assert send_otp_raw(http, encoded).is_success


def test_unencoded_basic_credentials_name_another_client(
    raw: httpx.Client, kit_special_app: RegisteredApplication
) -> None:
    assert kit_special_app.client_secret is not None
    secret = kit_special_app.client_secret
    assert send_otp_raw(raw, basic(quote(SPECIAL_CLIENT_ID, safe=""), secret)).is_success

    # The first ':' separates the parts: the client id is read as "a".
    assert_invalid_client(send_otp_raw(raw, basic(SPECIAL_CLIENT_ID, secret)))
    # A literal '+' is a space in form encoding: the client id is read as "a:b%c d e".
    plus_kept = quote(SPECIAL_CLIENT_ID, safe="+")
    assert_invalid_client(send_otp_raw(raw, basic(plus_kept, secret)))


@pytest.mark.parametrize(
    "authorization",
    ["Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer abc"],
)
def test_malformed_authorization(raw: httpx.Client, authorization: str) -> None:
    assert_invalid_client(send_otp_raw(raw, {"Authorization": authorization}))


# --- credentials in the body --------------------------------------------------------------------


def test_a_confidential_app_may_authenticate_in_the_body(
    raw: httpx.Client, kit_web_app: RegisteredApplication
) -> None:
    assert kit_web_app.client_secret is not None
    response = send_otp_raw(
        raw, {}, client_id=kit_web_app.client_id, client_secret=kit_web_app.client_secret
    )
    assert response.status_code == 200


def test_header_and_body_must_name_the_same_client(
    raw: httpx.Client, kit_web_app: RegisteredApplication, kit_spa_app: RegisteredApplication
) -> None:
    assert kit_web_app.client_secret is not None
    header = basic(quote(kit_web_app.client_id, safe=""), kit_web_app.client_secret)

    assert send_otp_raw(raw, header, client_id=kit_web_app.client_id).status_code == 200
    assert_invalid_client(send_otp_raw(raw, header, client_id=kit_spa_app.client_id))
    assert_invalid_client(send_otp_raw(raw, header, client_secret="another-secret"))
