"""JSON bodies made to hurt the decoder, on both endpoints: nested deeper than it goes (anyone
can send one, without credentials), and with a key given twice."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from .conftest import App, Server, User
from .server_support import assert_error

pytestmark = pytest.mark.sqlite_only  # the body is refused before any storage is reached

ENDPOINTS = ["/otp/send", "/reset_user_password"]
JSON = {"Content-Type": "application/json"}


def _nested(depth: int) -> bytes:
    """An object whose ``client_id`` (a field of both bodies) is a list nested ``depth`` deep:
    2 bytes a level."""
    return b'{"client_id": ' + b"[" * depth + b"]" * depth + b"}"


def _log_lines(server: Server) -> list[str]:
    log = server.outbox.with_name("server.log")
    return log.read_text(encoding="utf-8", errors="replace").splitlines()


def _records_of(request_id: str, lines: list[str]) -> list[dict[str, object]]:
    """The server's log records made while serving the request, but for its access log line."""
    records = [json.loads(line) for line in lines if request_id in line]
    return [r for r in records if r["logger"] != "uvicorn.access"]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("depth", [1_000, 8_000], ids=["2 KB", "the largest body accepted"])
def test_a_body_nested_too_deep_is_invalid_request_in_one_log_line(
    server: Server, path: str, depth: int
) -> None:
    body = _nested(depth)
    assert len(body) <= 16 * 1024
    before = len(_log_lines(server))
    request_id = uuid.uuid4().hex
    response = httpx.post(
        f"{server.base_url}{path}",
        content=body,
        headers={**JSON, "X-Request-ID": request_id},
    )
    description = assert_error(response, 400, "invalid_request")
    assert "nested too deep" in description
    new = _log_lines(server)[before:]
    [record] = _records_of(request_id, new)
    assert record["level"] == "WARNING"
    assert record["message"] == "refused a request body nested too deep to decode"
    assert set(record) <= {"time", "level", "logger", "message", "request_id"}, record
    assert not [line for line in new if "Traceback" in line or "RecursionError" in line], new


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_body_nested_less_deep_is_refused_for_its_shape(server: Server, path: str) -> None:
    """Nesting the decoder can follow is answered like any value of the wrong type."""
    response = httpx.post(f"{server.base_url}{path}", content=_nested(100), headers=JSON)
    assert "client_id" in assert_error(response, 400, "invalid_request")


def _send(server: Server, app: App, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/otp/send",
        content=body,
        headers=JSON,
        auth=httpx.BasicAuth(app.client_id, app.client_secret or ""),
    )


def test_of_a_key_given_twice_the_last_counts(server: Server, web_app: App, new_user: User) -> None:
    """As docs/server.md says: the last value of a repeated key is the one read."""
    email = new_user.email.encode()
    last_valid = b'{"usage": 7, "email": "%s", "usage": "reset_password"}' % email
    assert _send(server, web_app, last_valid).status_code == 200
    assert len(server.messages(new_user.email)) == 1

    last_invalid = b'{"usage": "reset_password", "email": "%s", "usage": 7}' % email
    assert "usage" in assert_error(_send(server, web_app, last_invalid), 400, "invalid_request")
    assert len(server.messages(new_user.email)) == 1
