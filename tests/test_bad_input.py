"""Malformed requests get the contract's error shape and store nothing: no code sent, no
challenge, no idempotency record, no attempt counted, no password changed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from .conftest import NEW_PASSWORD, App, Server, User
from .server_support import assert_error, count, outbox_lines, query

JSON = "application/json"
TOO_LARGE = 16 * 1024 + 1


@dataclass(frozen=True)
class Bad:
    """A request body (with its content type) and the answer it must get."""

    content: bytes
    status: int
    code: str
    field: str | None = None
    content_type: str | None = JSON


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


def _padded(body: dict[str, object]) -> bytes:
    """``body`` with an unknown field that makes it larger than the server accepts."""
    return _json({**body, "padding": "x" * TOO_LARGE})


def _common_cases(valid: dict[str, object]) -> dict[str, Bad]:
    return {
        "over 16 KiB": Bad(_padded(valid), 413, "request_too_large"),
        "text/plain": Bad(_json(valid), 415, "unsupported_media_type", content_type="text/plain"),
        "form": Bad(
            b"usage=reset_password",
            415,
            "unsupported_media_type",
            content_type="application/x-www-form-urlencoded",
        ),
        "no content type": Bad(_json(valid), 415, "unsupported_media_type", content_type=None),
        "invalid JSON": Bad(b'{"usage": ', 400, "invalid_request"),
        "a JSON array": Bad(b"[]", 400, "invalid_request"),
        "a JSON string": Bad(b'"reset_password"', 400, "invalid_request"),
        "a JSON number": Bad(b"42", 400, "invalid_request"),
        "JSON null": Bad(b"null", 400, "invalid_request"),
        "client_id of 300 characters": Bad(
            _json({**valid, "client_id": "c" * 300}), 400, "invalid_request", "client_id"
        ),
        "client_id a number": Bad(
            _json({**valid, "client_id": 7}), 400, "invalid_request", "client_id"
        ),
    }


def _send_cases(email: str) -> dict[str, Bad]:
    valid: dict[str, object] = {"usage": "reset_password", "email": email}
    return _common_cases(valid) | {
        "email a number": Bad(_json({**valid, "email": 5}), 400, "invalid_request", "email"),
        "usage a list": Bad(
            _json({**valid, "usage": ["reset_password"]}), 400, "invalid_request", "usage"
        ),
        "email of 400 characters": Bad(
            _json({**valid, "email": "e" * 388 + "@example.com"}), 400, "invalid_request", "email"
        ),
        "phone_number of 100 characters": Bad(
            _json({"usage": "reset_password", "phone_number": "1" * 100}),
            400,
            "invalid_request",
            "phone_number",
        ),
        "NUL in email": Bad(
            _json({**valid, "email": email.replace("@", "\u0000@")}),
            400,
            "invalid_request",
            "email",
        ),
        "NUL in usage": Bad(
            _json({**valid, "usage": "reset_password\u0000"}), 400, "invalid_request", "usage"
        ),
        "invalid UTF-8": Bad(
            b'{"usage": "reset_password", "email": "\xff\xfe' + email.encode() + b'"}',
            400,
            "invalid_request",
        ),
    }


def _reset_cases(valid: dict[str, object]) -> dict[str, Bad]:
    return _common_cases(valid) | {
        "password of 2000 characters": Bad(
            _json({**valid, "password": "Lantern-" * 250}), 400, "invalid_request", "password"
        ),
        "NUL in password": Bad(
            _json({**valid, "password": "Lantern\u0000harbour-58"}),
            400,
            "invalid_request",
            "password",
        ),
        "password a number": Bad(
            _json({**valid, "password": 12345678}), 400, "invalid_request", "password"
        ),
        "email_otp a number": Bad(
            _json({**valid, "email_otp": 123456}), 400, "invalid_request", "email_otp"
        ),
        "email_otp_token of 300 characters": Bad(
            _json({**valid, "email_otp_token": "t" * 300}),
            400,
            "invalid_request",
            "email_otp_token",
        ),
        "NUL in email_otp": Bad(
            _json({**valid, "email_otp": "\u0000" + str(valid["email_otp"])}),
            400,
            "invalid_request",
            "email_otp",
        ),
        "invalid UTF-8 in the password": Bad(
            _json({**valid, "password": "PLACEHOLDER"}).replace(b"PLACEHOLDER", b"Lantern-\xc3("),
            400,
            "invalid_request",
        ),
    }


@dataclass(frozen=True)
class Snapshot:
    outbox: int
    challenges: int
    idempotency_keys: int
    attempts: int


def _snapshot(server: Server) -> Snapshot:
    [(attempts,)] = query(server, "SELECT coalesce(sum(attempts), 0) FROM otp_challenges")
    return Snapshot(
        outbox=len(outbox_lines(server)),
        challenges=count(server, "otp_challenges"),
        idempotency_keys=count(server, "idempotency_keys"),
        attempts=int(attempts),
    )


def _post(server: Server, app: App, path: str, bad: Bad) -> httpx.Response:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    if bad.content_type is not None:
        headers["Content-Type"] = bad.content_type
    return httpx.post(
        f"{server.base_url}{path}",
        content=bad.content,
        headers=headers,
        auth=httpx.BasicAuth(app.client_id, app.client_secret or ""),
    )


def _check(response: httpx.Response, bad: Bad) -> None:
    description = assert_error(response, bad.status, bad.code)
    if bad.field is not None:
        assert description.startswith(f"{bad.field}:") or bad.field in description, description


@pytest.fixture
def sent(server: Server, web_app: App, new_user: User) -> dict[str, object]:
    """A valid reset body for ``new_user``, but for its password."""
    response = httpx.post(
        f"{server.base_url}/otp/send",
        json={"usage": "reset_password", "email": new_user.email},
        auth=httpx.BasicAuth(web_app.client_id, web_app.client_secret or ""),
    )
    assert response.status_code == 200, response.text
    return {
        "email": new_user.email,
        "email_otp": server.last_code(new_user.email),
        "email_otp_token": response.json()["otp_token"],
        "password": NEW_PASSWORD,
    }


def test_bad_sends_are_refused_and_store_nothing(
    server: Server, web_app: App, new_user: User
) -> None:
    before = _snapshot(server)
    failures = []
    for name, bad in _send_cases(new_user.email).items():
        response = _post(server, web_app, "/otp/send", bad)
        try:
            _check(response, bad)
        except AssertionError as error:
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)
    assert _snapshot(server) == before
    assert server.messages(new_user.email) == []


def test_bad_resets_are_refused_and_store_nothing(
    server: Server, web_app: App, new_user: User, sent: dict[str, object]
) -> None:
    before = _snapshot(server)
    failures = []
    for name, bad in _reset_cases(sent).items():
        response = _post(server, web_app, "/reset_user_password", bad)
        try:
            _check(response, bad)
        except AssertionError as error:
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)
    assert _snapshot(server) == before
    assert server.password_matches(new_user, new_user.password)

    # The code and its token are as good as before: none of the above counted an attempt.
    good = Bad(_json(sent), 200, "")
    assert _post(server, web_app, "/reset_user_password", good).status_code == 200
    assert server.password_matches(new_user, NEW_PASSWORD)


def test_a_streamed_body_over_the_limit_is_refused(server: Server, web_app: App) -> None:
    """Without a Content-Length the server must still stop reading at the limit."""
    before = _snapshot(server)

    def chunks() -> Iterator[bytes]:
        yield b'{"usage": "reset_password", "email": "streamed@example.com", "padding": "'
        for _ in range(TOO_LARGE // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = httpx.post(
        f"{server.base_url}/otp/send",
        content=chunks(),
        headers={"Content-Type": JSON},
        auth=httpx.BasicAuth(web_app.client_id, web_app.client_secret or ""),
    )
    assert_error(response, 413, "request_too_large")
    assert _snapshot(server) == before


@pytest.mark.parametrize(
    "authorization",
    [b"Basic \xe9", b"Basic YWJj\xff", "Basic ÄÖÜ:".encode("latin-1")],
    ids=["latin-1 letter", "a byte over 127 after base64", "umlauts"],
)
def test_a_non_ascii_authorization_header_is_invalid_client(
    server: Server, authorization: bytes
) -> None:
    """HTTP header values are bytes; one that is not ASCII cannot be Basic credentials."""
    before = _snapshot(server)
    response = httpx.post(
        f"{server.base_url}/otp/send",
        json={"usage": "reset_password", "email": "someone@example.com"},
        headers={b"Authorization": authorization},
    )
    assert_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert _snapshot(server) == before
