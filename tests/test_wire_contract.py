"""The contract's shape on the wire, read with plain httpx: statuses, bodies, headers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ciam_client import CiamClient

from .conftest import NEW_PASSWORD, App, Server, User, unique_email

ERROR_CONTENT_TYPE = "application/json;charset=UTF-8"
MAX_BODY = 16 * 1024


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an error in the contract's shape, a description included, and nothing
    else."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == ERROR_CONTENT_TYPE
    body = json.loads(response.content)
    assert isinstance(body, dict)
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == code
    assert isinstance(body["error_description"], str)
    assert body["error_description"], body
    assert response.headers["X-Request-ID"]
    return body


def _oversized_chunks() -> Iterator[bytes]:
    yield b'{"padding": "'
    for _ in range(MAX_BODY // 1024 + 1):
        yield b"x" * 1024
    yield b'"}'


JSON = {"Content-Type": "application/json"}
OVERSIZED = b'{"padding": "' + b"x" * (MAX_BODY + 1) + b'"}'


@pytest.mark.parametrize(
    ("route", "request_args", "status", "code"),
    [
        pytest.param("POST /no/such/endpoint", {}, 404, "not_found", id="unknown path"),
        pytest.param("GET /", {}, 404, "not_found", id="root"),
        pytest.param("GET /otp/send", {}, 405, "method_not_allowed", id="GET send"),
        pytest.param("PUT /reset_user_password", {}, 405, "method_not_allowed", id="PUT reset"),
        pytest.param(
            "POST /otp/send",
            {"content": b"hello", "headers": {"Content-Type": "text/plain"}},
            415,
            "unsupported_media_type",
            id="text/plain",
        ),
        pytest.param(
            "POST /reset_user_password",
            {"content": b"{}"},
            415,
            "unsupported_media_type",
            id="no Content-Type",
        ),
        pytest.param(
            "POST /reset_user_password",
            {"data": {"client_id": "x"}},
            415,
            "unsupported_media_type",
            id="form-encoded",
        ),
        pytest.param(
            "POST /otp/send",
            {"content": OVERSIZED, "headers": JSON},
            413,
            "request_too_large",
            id="oversized",
        ),
        pytest.param(
            "POST /reset_user_password",
            {"content": _oversized_chunks, "headers": JSON},
            413,
            "request_too_large",
            id="oversized, chunked",
        ),
        pytest.param(
            "POST /otp/send",
            {"content": b'{"client_id": ', "headers": JSON},
            400,
            "invalid_request",
            id="truncated JSON",
        ),
        pytest.param(
            "POST /reset_user_password",
            {"content": b"\xff\xfe{}", "headers": JSON},
            400,
            "invalid_request",
            id="not UTF-8",
        ),
        pytest.param(
            "POST /otp/send",
            {"content": b'["client_id"]', "headers": JSON},
            400,
            "invalid_request",
            id="JSON array",
        ),
        pytest.param(
            "POST /otp/send",
            {"content": b"", "headers": JSON},
            400,
            "invalid_request",
            id="empty body",
        ),
        pytest.param("POST /otp/send", {"json": {}}, 401, "invalid_client", id="no client at all"),
    ],
)
def test_error_responses_have_the_contract_shape(
    http: httpx.Client, route: str, request_args: dict[str, Any], status: int, code: str
) -> None:
    if callable(request_args.get("content")):
        request_args = {**request_args, "content": request_args["content"]()}
    method, _, path = route.partition(" ")
    response = http.request(method, path, **request_args)
    assert_error(response, status, code)


def test_a_wrongly_typed_field_is_named(http: httpx.Client, spa_app: App) -> None:
    response = http.post(
        "/otp/send", json={"client_id": spa_app.client_id, "usage": "reset_password", "email": 7}
    )
    body = assert_error(response, 400, "invalid_request")
    assert "email" in body["error_description"]


def test_a_missing_field_is_named(http: httpx.Client, spa_app: App) -> None:
    response = http.post(
        "/reset_user_password",
        json={
            "client_id": spa_app.client_id,
            "email": unique_email(),
            "email_otp": "123456",
            "password": "Lantern-harbour-58",
        },
    )
    body = assert_error(response, 400, "invalid_request")
    assert "email_otp_token" in body["error_description"]


def test_both_channels_at_once_is_an_invalid_request(http: httpx.Client, spa_app: App) -> None:
    response = http.post(
        "/otp/send",
        json={
            "client_id": spa_app.client_id,
            "usage": "reset_password",
            "email": unique_email(),
            "phone_number": "+8613800138000",
        },
    )
    assert_error(response, 400, "invalid_request")


def test_send_answers_exactly_the_token_and_its_lifetime(http: httpx.Client, spa_app: App) -> None:
    response = http.post(
        "/otp/send",
        json={"client_id": spa_app.client_id, "usage": "reset_password", "email": unique_email()},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"otp_token", "expires_in"}
    assert body["expires_in"] == 600
    assert isinstance(body["otp_token"], str)
    assert len(body["otp_token"]) >= 22  # at least 128 bits, base64url-encoded


def test_unknown_fields_are_ignored(http: httpx.Client, spa_app: App) -> None:
    response = http.post(
        "/otp/send",
        json={
            "client_id": spa_app.client_id,
            "usage": "reset_password",
            "email": unique_email(),
            "locale": "zh-CN",
            "extra": {"nested": [1, 2]},
        },
    )
    assert response.status_code == 200


def test_json_with_a_charset_parameter_is_json(http: httpx.Client, spa_app: App) -> None:
    body = {"client_id": spa_app.client_id, "usage": "reset_password", "email": unique_email()}
    response = http.post(
        "/otp/send",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "Application/JSON; charset=UTF-8"},
    )
    assert response.status_code == 200


def test_a_successful_reset_has_an_empty_body(
    server: Server, http: httpx.Client, spa_app: App, new_user: User
) -> None:
    sent = http.post(
        "/otp/send",
        json={"client_id": spa_app.client_id, "usage": "reset_password", "email": new_user.email},
    ).json()

    body = {
        "client_id": spa_app.client_id,
        "email": new_user.email,
        "email_otp": server.last_code(new_user.email),
        "email_otp_token": sent["otp_token"],
        "password": "Lantern-harbour-58",
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}
    response = http.post("/reset_user_password", json=body, headers=key)
    replayed = http.post("/reset_user_password", json=body, headers=key)

    assert server.password_matches(new_user, "Lantern-harbour-58")
    assert replayed.headers["Idempotent-Replayed"] == "true"
    for answer in (response, replayed):
        assert answer.status_code == 200
        assert answer.content == b""
        # An empty body claims no media type.
        assert "Content-Type" not in answer.headers
        assert answer.headers["Content-Length"] == "0"


def test_the_sdk_takes_the_empty_answer_of_a_reset(server: Server, new_user: User) -> None:
    answers: list[httpx.Response] = []
    app = server.create_app("web")
    with (
        httpx.Client(event_hooks={"response": [answers.append]}) as http,
        CiamClient(
            base_url=server.base_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            http_client=http,
        ) as ciam,
    ):
        sent = ciam.send_otp(email=new_user.email)
        # Returns nothing, raising on any answer it cannot take.
        ciam.reset_user_password(
            email=new_user.email,
            otp=server.last_code(new_user.email),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )

    assert server.password_matches(new_user, NEW_PASSWORD)
    answer = answers[-1]
    assert answer.request.url.path == "/reset_user_password"
    assert answer.status_code == 200
    assert "Content-Type" not in answer.headers


# --- X-Request-ID -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/otp/send"), ("GET", "/otp/send"), ("GET", "/nowhere")]
)
def test_a_request_id_is_echoed(http: httpx.Client, method: str, path: str) -> None:
    request_id = "trace-42.abc:DEF_9"
    response = http.request(method, path, json={}, headers={"X-Request-ID": request_id})
    assert response.status_code >= 400
    assert response.headers["X-Request-ID"] == request_id


def test_a_request_id_is_made_when_none_is_sent(http: httpx.Client, spa_app: App) -> None:
    body = {"client_id": spa_app.client_id, "usage": "reset_password", "email": unique_email()}
    first = http.post("/otp/send", json=body)
    second = http.post("/otp/send", json={})

    assert first.status_code == 200
    assert second.status_code == 401
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(ids)
    assert ids[0] != ids[1]


@pytest.mark.parametrize("request_id", ["has spaces in it", "x" * 129, "<script>"])
def test_an_unsafe_request_id_is_replaced(http: httpx.Client, request_id: str) -> None:
    response = http.post("/otp/send", json={}, headers={"X-Request-ID": request_id})
    assert response.headers["X-Request-ID"]
    assert response.headers["X-Request-ID"] != request_id


# --- HEAD ---------------------------------------------------------------------------------------

STABLE_HEADERS = ("content-type", "cache-control", "etag", "content-security-policy")
"""Headers a GET and a HEAD of the same resource answer alike (not Date, not X-Request-ID)."""


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/readyz", "/reset?client_id=demo-spa", "/reset/reset.js", "/reset/reset.css"],
)
def test_head_answers_the_headers_of_get_without_a_body(http: httpx.Client, path: str) -> None:
    got = http.get(path)
    head = http.head(path)

    assert got.status_code == head.status_code == 200, head
    assert got.content
    assert head.content == b""
    assert head.headers["Content-Length"] == str(len(got.content))
    for name in STABLE_HEADERS:
        assert head.headers.get(name) == got.headers.get(name), name
    assert head.headers["X-Request-ID"]


def test_head_on_metrics_answers_its_media_type_without_a_body(http: httpx.Client) -> None:
    """The metrics' text changes from one scrape to the next: only its length is compared."""
    got = http.get("/metrics")
    head = http.head("/metrics")

    assert got.status_code == head.status_code == 200, head
    assert head.content == b""
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert int(head.headers["Content-Length"]) > 0
