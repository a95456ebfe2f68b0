"""Client authentication against the real server: the SDK, and raw HTTP Basic edge cases."""

from __future__ import annotations

import base64
import uuid
from urllib.parse import quote, quote_plus

import httpx
import pytest

from ciam_client import InvalidClientError

from .conftest import (
    DEFAULT_PASSWORD,
    NEW_PASSWORD,
    App,
    Server,
    User,
    api_error,
    unique_client_id,
    unique_email,
)

SPECIAL_CLIENT_ID = "a:b%c+d e"


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    """An Authorization header with the two parts exactly as given, not encoded further."""
    pair = f"{client_id}:{client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def percent_encode_all(text: str) -> str:
    """Every byte as %XX, letters and digits included: a decoder must undo all of it."""
    return "".join(f"%{byte:02X}" for byte in text.encode())


def send_otp_raw(server: Server, headers: dict[str, str], **body: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/otp/send",
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


# --- refusals through the SDK -------------------------------------------------------------------


def test_a_wrong_client_secret(server: Server, web_app: App) -> None:
    wrong = App(client_id=web_app.client_id, client_secret="not-the-secret")

    with (
        server.client(wrong) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client") as error,
    ):
        ciam.send_otp(email=unique_email())
    assert error.value.response.headers["WWW-Authenticate"].startswith("Basic")

    response = send_otp_raw(server, basic(web_app.client_id, "not-the-secret"))
    assert_invalid_client(response)


def test_a_wrong_client_secret_on_reset(server: Server, web_app: App, new_user: User) -> None:
    with server.client(web_app) as ciam:
        sent = ciam.send_otp(email=new_user.email)
    wrong = App(client_id=web_app.client_id, client_secret=f"{web_app.client_secret}x")

    with (
        server.client(wrong) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client"),
    ):
        ciam.reset_user_password(
            email=new_user.email,
            otp=server.last_code(new_user.email),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
    assert server.password_matches(new_user, DEFAULT_PASSWORD)


@pytest.mark.parametrize("client_secret", [None, "some-secret"])
def test_an_unknown_client(server: Server, client_secret: str | None) -> None:
    unknown = App(client_id=unique_client_id("unknown"), client_secret=client_secret)

    with (
        server.client(unknown) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client") as error,
    ):
        ciam.send_otp(email=unique_email())
    assert error.value.response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_confidential_app_without_its_secret(server: Server, web_app: App) -> None:
    without_secret = App(client_id=web_app.client_id, client_secret=None)

    with (
        server.client(without_secret) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client"),
    ):
        ciam.send_otp(email=unique_email())


def test_a_public_app_presenting_a_secret(server: Server, spa_app: App) -> None:
    with_secret = App(client_id=spa_app.client_id, client_secret="made-up-secret")

    with (
        server.client(with_secret) as ciam,
        api_error(InvalidClientError, status=401, code="invalid_client"),
    ):
        ciam.send_otp(email=unique_email())


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
    server: Server, new_user: User, app_type: str, client_id: str
) -> None:
    # Made unique for this run; the characters under test stay in front.
    unique = f"{client_id}-{uuid.uuid4().hex[:8]}"
    app = server.create_app(app_type, client_id=unique, allow_otp_send=True)
    assert (app.client_secret is None) == (app_type == "spa")

    with server.client(app) as ciam:
        sent = ciam.send_otp(email=new_user.email)
        ciam.reset_user_password(
            email=new_user.email,
            otp=server.last_code(new_user.email),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )

    assert server.password_matches(new_user, NEW_PASSWORD)


def test_basic_credentials_are_form_decoded(server: Server, special_app: App) -> None:
    assert special_app.client_secret is not None
    secret = special_app.client_secret

    # The SDK's encoding: every reserved character as %XX.
    assert send_otp_raw(server, basic(quote(SPECIAL_CLIENT_ID, safe=""), secret)).is_success
    # Form encoding: the space as '+'.
    assert send_otp_raw(server, basic(quote_plus(SPECIAL_CLIENT_ID), secret)).is_success
    # Every byte of both parts percent-encoded, the secret's letters and digits too.
    encoded = basic(percent_encode_all(SPECIAL_CLIENT_ID), percent_encode_all(secret))
    assert send_otp_raw(server, encoded).is_success


def test_unencoded_basic_credentials_name_another_client(server: Server, special_app: App) -> None:
    assert special_app.client_secret is not None
    secret = special_app.client_secret

    # The first ':' separates the parts: the client id is read as "a".
    assert_invalid_client(send_otp_raw(server, basic(SPECIAL_CLIENT_ID, secret)))
    # A literal '+' is a space in form encoding: the client id is read as "a:b%c d e".
    plus_kept = quote(SPECIAL_CLIENT_ID, safe="+")
    assert_invalid_client(send_otp_raw(server, basic(plus_kept, secret)))


@pytest.mark.parametrize(
    "authorization",
    ["Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer abc"],
)
def test_malformed_authorization(server: Server, authorization: str) -> None:
    assert_invalid_client(send_otp_raw(server, {"Authorization": authorization}))


# --- credentials in the body --------------------------------------------------------------------


def test_a_confidential_app_may_authenticate_in_the_body(server: Server, web_app: App) -> None:
    assert web_app.client_secret is not None
    response = send_otp_raw(
        server, {}, client_id=web_app.client_id, client_secret=web_app.client_secret
    )
    assert response.status_code == 200


def test_header_and_body_must_name_the_same_client(
    server: Server, web_app: App, spa_app: App
) -> None:
    assert web_app.client_secret is not None
    header = basic(quote(web_app.client_id, safe=""), web_app.client_secret)

    assert send_otp_raw(server, header, client_id=web_app.client_id).status_code == 200
    assert_invalid_client(send_otp_raw(server, header, client_id=spa_app.client_id))
    assert_invalid_client(send_otp_raw(server, header, client_secret="another-secret"))
