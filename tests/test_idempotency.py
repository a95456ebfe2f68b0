"""``Idempotency-Key`` on both endpoints: a repeat is answered as the first request was and
changes nothing; and the SDK, whose retries reuse their call's key, never loses nor doubles a
send or a reset when an answer is lost on the way."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from ciam_client import CiamClient, _client

from .conftest import NEW_PASSWORD, App, Server, User, unique_email
from .server_support import assert_error, count, outbox_lines, password_changes

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
    server: Server, app: App, path: str, body: dict[str, str], key: str | None
) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    if app.client_secret is None:
        body = {"client_id": app.client_id, **body}
        auth = None
    else:
        auth = httpx.BasicAuth(app.client_id, app.client_secret)
    return httpx.post(f"{server.base_url}{path}", json=body, headers=headers, auth=auth)


def _send(server: Server, app: App, email: str, key: str | None) -> httpx.Response:
    return _post(server, app, "/otp/send", {"usage": "reset_password", "email": email}, key)


def test_a_repeated_send_is_answered_again_and_sends_nothing(server: Server, web_app: App) -> None:
    email, key = unique_email(), _key()
    first = _send(server, web_app, email, key)
    again = _send(server, web_app, email, key)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers
    assert again.headers["content-type"] == first.headers["content-type"]
    assert len(server.messages(email)) == 1


def test_a_repeated_reset_changes_the_password_once(
    server: Server, web_app: App, new_user: User
) -> None:
    token = _send(server, web_app, new_user.email, None).json()["otp_token"]
    body = {
        "email": new_user.email,
        "email_otp": server.last_code(new_user.email),
        "email_otp_token": token,
        "password": NEW_PASSWORD,
    }
    key = _key()
    first = _post(server, web_app, "/reset_user_password", body, key)
    again = _post(server, web_app, "/reset_user_password", body, key)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content == b""
    assert again.headers[REPLAYED] == "true"
    # Not run again: the same request under another key finds the token used.
    fresh = _post(server, web_app, "/reset_user_password", body, _key())
    assert_error(fresh, 400, "bad_email_otp_token")

    assert password_changes(server, new_user.email) == (1, 2)
    assert server.password_matches(new_user, NEW_PASSWORD)
    changed = [m for m in server.messages(new_user.email) if m["usage"] == "password_changed"]
    assert len(changed) == 1


def test_a_refusal_is_replayed_too(server: Server, web_app: App) -> None:
    key = _key()
    body = {"usage": "reset_password", "email": "not-an-address"}
    first = _post(server, web_app, "/otp/send", body, key)
    again = _post(server, web_app, "/otp/send", body, key)
    assert_error(first, 400, "malformed_email")
    assert_error(again, 400, "malformed_email")
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"


@pytest.mark.parametrize("path", ["/otp/send", "/reset_user_password"])
def test_the_same_key_with_another_body_is_refused(
    server: Server, web_app: App, new_user: User, path: str
) -> None:
    if path == "/otp/send":
        first_body = {"usage": "reset_password", "email": new_user.email}
        other_body = {"usage": "reset_password", "email": unique_email()}
    else:
        token = _send(server, web_app, new_user.email, None).json()["otp_token"]
        code = server.last_code(new_user.email)
        first_body = {
            "email": new_user.email,
            "email_otp": code,
            "email_otp_token": token,
            "password": "short",
        }
        other_body = first_body | {"password": NEW_PASSWORD}
    key = _key()
    lines = len(outbox_lines(server))
    first = _post(server, web_app, path, first_body, key)
    assert first.status_code in (200, 400), first.text
    lines_after_first = len(outbox_lines(server))

    refused = _post(server, web_app, path, other_body, key)
    assert_error(refused, 422, "idempotency_key_reused")
    assert REPLAYED not in refused.headers
    assert len(outbox_lines(server)) == lines_after_first
    assert lines_after_first == lines + (1 if path == "/otp/send" else 0)
    assert server.password_matches(new_user, new_user.password)


def test_keys_belong_to_their_application(server: Server, web_app: App, spa_app: App) -> None:
    email, key = unique_email(), _key()
    from_web = _send(server, web_app, email, key)
    from_spa = _send(server, spa_app, email, key)

    assert from_web.status_code == from_spa.status_code == 200
    assert REPLAYED not in from_spa.headers
    assert from_web.json()["otp_token"] != from_spa.json()["otp_token"]
    assert len(server.messages(email)) == 2


def test_a_key_expires(strict_server: Server) -> None:
    """On a server keeping keys 1 s, the same key and body are run again 1.5 s later."""
    app = strict_server.create_app("web")
    user = strict_server.create_user()
    key = _key()
    first = _send(strict_server, app, user.email, key)
    again = _send(strict_server, app, user.email, key)
    assert again.headers[REPLAYED] == "true"
    time.sleep(1.5)
    later = _send(strict_server, app, user.email, key)

    assert first.status_code == later.status_code == 200
    assert REPLAYED not in later.headers
    assert later.json()["otp_token"] != first.json()["otp_token"]
    assert len(strict_server.messages(user.email)) == 2


@pytest.mark.parametrize(
    "key",
    ["k" * 300, "with space", "tab\there", ""],
    ids=["300 characters", "a space", "a tab", "empty"],
)
def test_an_invalid_key_is_refused(server: Server, web_app: App, key: str) -> None:
    email = unique_email()
    challenges = count(server, "otp_challenges")
    response = _send(server, web_app, email, key)
    description = assert_error(response, 400, "invalid_request")
    assert "Idempotency-Key" in description
    assert server.messages(email) == []
    assert count(server, "otp_challenges") == challenges


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
