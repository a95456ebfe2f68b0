"""``Idempotency-Key`` on both endpoints: a repeat is answered as the first request was and
changes nothing; and the SDK, whose retries reuse their call's key, never loses nor doubles a
send or a reset when an answer is lost on the way.

The keys run on the server's test kit (docs/testing.md), whose clock ends a key's lifetime at
once; the lost answers, on a server process whose connection is cut."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from ciam_client import CiamClient, _client
from ciam_server.testing import (
    CiamTestServer,
    PasswordChangedNotice,
    RegisteredApplication,
    RegisteredUser,
)

from .conftest import NEW_PASSWORD, App, Server, User, unique_email
from .server_support import assert_error, count, password_changes

Kit = CiamTestServer

REPLAYED = "Idempotent-Replayed"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's waits between retries, recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr(_client, "_sleep", delays.append)
    return delays


def _key() -> str:
    return f"test-{uuid.uuid4()}"


def _post(
    http: httpx.Client, app: RegisteredApplication, path: str, body: dict[str, str], key: str | None
) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    if app.client_secret is None:
        return http.post(path, json={"client_id": app.client_id, **body}, headers=headers)
    auth = httpx.BasicAuth(app.client_id, app.client_secret)
    return http.post(path, json=body, headers=headers, auth=auth)


def _send(
    http: httpx.Client, app: RegisteredApplication, email: str, key: str | None
) -> httpx.Response:
    return _post(http, app, "/otp/send", {"usage": "reset_password", "email": email}, key)


@pytest.fixture
def http(ciam_test_server: Kit) -> Iterator[httpx.Client]:
    """Plain HTTP to the test's kit server."""
    with ciam_test_server.http_client() as client:
        yield client


def test_a_repeated_send_is_answered_again_and_sends_nothing(
    ciam_test_server: Kit, http: httpx.Client, kit_web_app: RegisteredApplication
) -> None:
    email, key = unique_email(), _key()
    first = _send(http, kit_web_app, email, key)
    again = _send(http, kit_web_app, email, key)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers
    assert again.headers["content-type"] == first.headers["content-type"]
    assert len(ciam_test_server.outbox.sent_to(email)) == 1


def test_a_repeated_reset_changes_the_password_once(
    ciam_test_server: Kit,
    http: httpx.Client,
    kit_web_app: RegisteredApplication,
    kit_user: RegisteredUser,
) -> None:
    token = _send(http, kit_web_app, kit_user.email, None).json()["otp_token"]
    body = {
        "email": kit_user.email,
        "email_otp": ciam_test_server.last_code(kit_user.email).code,
        "email_otp_token": token,
        "password": NEW_PASSWORD,
    }
    key = _key()
    first = _post(http, kit_web_app, "/reset_user_password", body, key)
    again = _post(http, kit_web_app, "/reset_user_password", body, key)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content == b""
    assert again.headers[REPLAYED] == "true"
    # Not run again: the same request under another key finds the token used.
    fresh = _post(http, kit_web_app, "/reset_user_password", body, _key())
    assert_error(fresh, 400, "bad_email_otp_token")

    assert password_changes(ciam_test_server, kit_user.email) == (1, 2)
    assert ciam_test_server.password_matches(kit_user.email, NEW_PASSWORD)
    changed = [
        m
        for m in ciam_test_server.outbox.sent_to(kit_user.email)
        if isinstance(m, PasswordChangedNotice)
    ]
    assert len(changed) == 1


def test_a_refusal_is_replayed_too(http: httpx.Client, kit_web_app: RegisteredApplication) -> None:
    key = _key()
    body = {"usage": "reset_password", "email": "not-an-address"}
    first = _post(http, kit_web_app, "/otp/send", body, key)
    again = _post(http, kit_web_app, "/otp/send", body, key)
    assert_error(first, 400, "malformed_email")
    assert_error(again, 400, "malformed_email")
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"


@pytest.mark.parametrize("path", ["/otp/send", "/reset_user_password"])
def test_the_same_key_with_another_body_is_refused(
    ciam_test_server: Kit,
    http: httpx.Client,
    kit_web_app: RegisteredApplication,
    kit_user: RegisteredUser,
    path: str,
) -> None:
    if path == "/otp/send":
        first_body = {"usage": "reset_password", "email": kit_user.email}
        other_body = {"usage": "reset_password", "email": unique_email()}
    else:
        token = _send(http, kit_web_app, kit_user.email, None).json()["otp_token"]
        code = ciam_test_server.last_code(kit_user.email).code
        first_body = {
            "email": kit_user.email,
            "email_otp": code,
            "email_otp_token": token,
            "password": "short",
        }
        other_body = first_body | {"password": NEW_PASSWORD}
    key = _key()
    messages = len(ciam_test_server.outbox.messages)
    first = _post(http, kit_web_app, path, first_body, key)
    assert first.status_code in (200, 400), first.text
    messages_after_first = len(ciam_test_server.outbox.messages)

    refused = _post(http, kit_web_app, path, other_body, key)
    assert_error(refused, 422, "idempotency_key_reused")
    assert REPLAYED not in refused.headers
    assert len(ciam_test_server.outbox.messages) == messages_after_first
    assert messages_after_first == messages + (1 if path == "/otp/send" else 0)
    assert ciam_test_server.password_matches(kit_user.email, kit_user.password)


def test_keys_belong_to_their_application(
    ciam_test_server: Kit,
    http: httpx.Client,
    kit_web_app: RegisteredApplication,
    kit_spa_app: RegisteredApplication,
) -> None:
    email, key = unique_email(), _key()
    from_web = _send(http, kit_web_app, email, key)
    ciam_test_server.clock.advance(ciam_test_server.settings.otp_send_interval)
    from_spa = _send(http, kit_spa_app, email, key)

    assert from_web.status_code == from_spa.status_code == 200
    assert REPLAYED not in from_spa.headers
    assert from_web.json()["otp_token"] != from_spa.json()["otp_token"]
    assert len(ciam_test_server.outbox.sent_to(email)) == 2


def test_a_key_expires(
    ciam_test_server: Kit,
    http: httpx.Client,
    kit_web_app: RegisteredApplication,
    kit_user: RegisteredUser,
) -> None:
    """The same key and body are answered again until the key's lifetime is over, then run
    again."""
    ttl = ciam_test_server.settings.idempotency_ttl
    key = _key()
    first = _send(http, kit_web_app, kit_user.email, key)
    ciam_test_server.clock.advance(ttl - 1)
    again = _send(http, kit_web_app, kit_user.email, key)
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    ciam_test_server.clock.advance(1)
    later = _send(http, kit_web_app, kit_user.email, key)

    assert first.status_code == later.status_code == 200
    assert REPLAYED not in later.headers
    assert later.json()["otp_token"] != first.json()["otp_token"]
    assert len(ciam_test_server.outbox.sent_to(kit_user.email)) == 2


@pytest.mark.parametrize(
    "key",
    ["k" * 300, "with space", "tab\there", ""],
    ids=["300 characters", "a space", "a tab", "empty"],
)
def test_an_invalid_key_is_refused(
    ciam_test_server: Kit, http: httpx.Client, kit_web_app: RegisteredApplication, key: str
) -> None:
    email = unique_email()
    response = _send(http, kit_web_app, email, key)
    description = assert_error(response, 400, "invalid_request")
    assert "Idempotency-Key" in description
    assert ciam_test_server.outbox.messages == []
    assert count(ciam_test_server, "otp_challenges") == 0


# --- the SDK, when an answer is lost --------------------------------------------------------------


class LosesFirstAnswer(httpx.HTTPTransport):
    """Forwards every request to the server, but the first answer to ``path`` never reaches the
    caller: the connection fails as if it had dropped after the server answered."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.requests: list[httpx.Request] = []
        self.answers: list[httpx.Response] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path != self.path:
            return response
        response.read()
        self.requests.append(request)
        self.answers.append(response)
        if len(self.answers) == 1:
            response.close()
            raise httpx.ReadError("connection lost after the server answered", request=request)
        return response


def test_a_lost_answer_to_a_send_is_not_a_second_code(
    server: Server, web_app: App, no_waiting: list[float]
) -> None:
    email = unique_email()
    transport = LosesFirstAnswer("/otp/send")
    with httpx.Client(transport=transport) as http:
        ciam = CiamClient(
            base_url=server.base_url,
            client_id=web_app.client_id,
            client_secret=web_app.client_secret,
            http_client=http,
        )
        sent = ciam.send_otp(email=email)

    lost, replayed = transport.answers
    assert lost.status_code == replayed.status_code == 200
    assert replayed.headers[REPLAYED] == "true"
    assert sent.otp_token == lost.json()["otp_token"]
    first_request, retry = transport.requests
    assert retry.headers["Idempotency-Key"] == first_request.headers["Idempotency-Key"]
    assert len(server.messages(email)) == 1
    assert len(no_waiting) == 1


def test_a_lost_answer_to_a_reset_is_neither_lost_nor_doubled(
    server: Server, web_app: App, new_user: User, no_waiting: list[float]
) -> None:
    transport = LosesFirstAnswer("/reset_user_password")
    with httpx.Client(transport=transport) as http:
        ciam = CiamClient(
            base_url=server.base_url,
            client_id=web_app.client_id,
            client_secret=web_app.client_secret,
            http_client=http,
        )
        sent = ciam.send_otp(email=new_user.email)
        ciam.reset_user_password(
            email=new_user.email,
            otp=server.last_code(new_user.email),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )

    lost, replayed = transport.answers
    assert lost.status_code == replayed.status_code == 200
    assert replayed.headers[REPLAYED] == "true"
    first_request, retry = transport.requests
    assert retry.headers["Idempotency-Key"] == first_request.headers["Idempotency-Key"]
    assert len(no_waiting) == 1
    assert not server.password_matches(new_user, new_user.password)
    assert server.password_matches(new_user, NEW_PASSWORD)
    assert password_changes(server, new_user.email) == (1, 2)
