"""Every error, the framework's included, leaves in the contract's shape and Content-Type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ciam_server.app import create_app
from ciam_server.store import SqlStore
from ciam_shared import ERROR_SPECS, ErrorCode

from .support import (
    EMAIL,
    JSON_HEADERS,
    MOBILE_CLIENT_ID,
    NEW_PASSWORD,
    WEB_AUTH,
    WEB_CLIENT_ID,
    WEB_CLIENT_SECRET,
    assert_error,
    basic,
    make_settings,
)

Client = AsyncTestClient[Litestar]

RESET_BODY = {
    "email": EMAIL,
    "email_otp_token": "no-such-token",
    "email_otp": "123456",
    "password": NEW_PASSWORD,
}


async def test_unknown_path_is_not_found(client: Client) -> None:
    assert_error(await client.get("/no/such/path"), 404, "not_found")
    assert_error(await client.post("/otp/resend", json={}, headers=WEB_AUTH), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/no/such/path", ErrorCode.NOT_FOUND),
        ("GET", "/schema/no-such-page", ErrorCode.NOT_FOUND),
        ("DELETE", "/otp/send", ErrorCode.METHOD_NOT_ALLOWED),
        ("POST", "/healthz", ErrorCode.METHOD_NOT_ALLOWED),
    ],
)
async def test_framework_errors_are_described_by_the_registry(
    client: Client, method: str, path: str, code: ErrorCode
) -> None:
    """The errors Litestar raises itself get the registry's sentence for their code."""
    body = assert_error(await client.request(method, path), ERROR_SPECS[code].status, code.value)
    assert body["error_description"] == ERROR_SPECS[code].meaning


@pytest.mark.parametrize("path", ["/schema/swagger", "/schema/redoc", "/schema/no-such-page"])
async def test_unknown_path_under_the_schema_prefix_is_not_found_in_json(
    client: Client, path: str
) -> None:
    assert_error(await client.get(path), 404, "not_found")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/otp/send", "/reset_user_password"])
async def test_wrong_method_is_method_not_allowed(client: Client, method: str, path: str) -> None:
    assert_error(await client.request(method, path), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
@pytest.mark.parametrize("path", ["/otp/send", "/reset_user_password"])
async def test_a_body_not_declared_as_json_is_unsupported_media_type(
    client: Client, content_type: str | None, path: str
) -> None:
    headers = dict(WEB_AUTH)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.post(path, content=b'{"email": "a@example.com"}', headers=headers)
    assert_error(response, 415, "unsupported_media_type")


async def test_json_with_a_charset_parameter_is_accepted(client: Client) -> None:
    response = await client.post(
        "/otp/send",
        content=b'{"usage": "reset_password", "email": "alice@example.com"}',
        headers=WEB_AUTH | {"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 200, response.text


async def test_a_body_over_the_limit_is_request_too_large(
    store: SqlStore, database_url: str, outbox: Path
) -> None:
    settings = make_settings(database_url, outbox, max_body_size=1024)
    async with AsyncTestClient(app=create_app(settings)) as client:
        padding = "x" * 2000
        response = await client.post(
            "/reset_user_password",
            json=RESET_BODY | {"password": padding},
            headers=WEB_AUTH,
        )
        body = assert_error(response, 413, "request_too_large")
        assert body["error_description"] == ERROR_SPECS[ErrorCode.REQUEST_TOO_LARGE].meaning
        assert padding not in response.text
        # Under the limit, the same endpoint decodes the body and answers as a flow does.
        response = await client.post("/reset_user_password", json=RESET_BODY, headers=WEB_AUTH)
        assert_error(response, 400, "bad_email_otp_token")


@pytest.mark.parametrize(
    ("body", "description_part"),
    [
        pytest.param(b'{"email": "a@example.com",', "not valid JSON", id="truncated-json"),
        pytest.param(b"email=a@example.com", "not valid JSON", id="form-body"),
        pytest.param(b"[]", "JSON object", id="json-array"),
        pytest.param(b'["email", "a@example.com"]', "JSON object", id="json-array-of-strings"),
        pytest.param(b'"a string"', "JSON object", id="json-string"),
        pytest.param(b"", "JSON object", id="empty-body"),
    ],
)
@pytest.mark.parametrize("path", ["/otp/send", "/reset_user_password"])
async def test_a_body_that_is_not_a_json_object_is_invalid_request(
    client: Client, path: str, body: bytes, description_part: str
) -> None:
    response = await client.post(path, content=body, headers=WEB_AUTH | JSON_HEADERS)
    error = assert_error(response, 400, "invalid_request")
    assert description_part in error["error_description"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'\xff\xfe{"email": "a@example.com"}', id="invalid-utf8-before-the-object"),
        pytest.param(b'{"email": "a\xffb@example.com"}', id="invalid-utf8-in-a-string"),
        pytest.param(b'{"password": "\xc3("}', id="truncated-utf8-sequence"),
    ],
)
@pytest.mark.parametrize("path", ["/otp/send", "/reset_user_password"])
async def test_a_body_that_is_not_utf8_is_invalid_request(
    client: Client, path: str, body: bytes
) -> None:
    response = await client.post(path, content=body, headers=WEB_AUTH | JSON_HEADERS)
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/otp/send", {"email": 5}, "email"),
        ("/otp/send", {"usage": ["reset_password"]}, "usage"),
        ("/otp/send", {"client_id": {"id": "web-app"}}, "client_id"),
        ("/reset_user_password", RESET_BODY | {"password": 12345678}, "password"),
        ("/reset_user_password", RESET_BODY | {"email_otp": 123456}, "email_otp"),
        ("/reset_user_password", RESET_BODY | {"phone_number": False}, "phone_number"),
    ],
)
async def test_a_wrongly_typed_field_is_invalid_request_naming_it(
    client: Client, path: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post(path, json=body, headers=WEB_AUTH)
    error = assert_error(response, 400, "invalid_request")
    assert error["error_description"].startswith(f"{field}:")


async def test_unknown_fields_are_ignored(client: Client) -> None:
    response = await client.post(
        "/reset_user_password", json=RESET_BODY | {"captcha": [1, 2]}, headers=WEB_AUTH
    )
    assert_error(response, 400, "bad_email_otp_token")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/otp/send", {"usage": "reset_password", "email": EMAIL}),
        ("/reset_user_password", RESET_BODY),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-credentials"),
        pytest.param({"Authorization": basic(WEB_CLIENT_ID, "wrong-secret")}, id="wrong-secret"),
        pytest.param({"Authorization": basic(WEB_CLIENT_ID)}, id="missing-secret"),
        pytest.param({"Authorization": basic("no-such-app", "x")}, id="unknown-client"),
        pytest.param({"Authorization": "Basic !!!"}, id="malformed-basic"),
        pytest.param({"Authorization": "Bearer abc"}, id="bearer"),
    ],
)
async def test_failed_client_authentication_is_invalid_client_with_a_basic_challenge(
    client: Client, path: str, body: dict[str, str], headers: dict[str, str]
) -> None:
    response = await client.post(path, json=body, headers=headers)
    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_header_and_body_naming_different_clients_is_invalid_client(
    client: Client,
) -> None:
    response = await client.post(
        "/otp/send",
        json={"client_id": MOBILE_CLIENT_ID, "usage": "reset_password", "email": EMAIL},
        headers=WEB_AUTH,
    )
    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_credentials_in_the_body_authenticate_a_confidential_client(client: Client) -> None:
    response = await client.post(
        "/otp/send",
        json={
            "client_id": WEB_CLIENT_ID,
            "client_secret": WEB_CLIENT_SECRET,
            "usage": "reset_password",
            "email": EMAIL,
        },
    )
    assert response.status_code == 200, response.text


async def test_other_errors_carry_no_authentication_challenge(client: Client) -> None:
    response = await client.post("/reset_user_password", json=RESET_BODY, headers=WEB_AUTH)
    assert_error(response, 400, "bad_email_otp_token")
    assert "www-authenticate" not in response.headers


async def test_an_unexpected_exception_is_a_bare_server_error(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(self: SqlStore, client_id: str) -> None:
        raise RuntimeError("connection to db-internal.example:5432 lost")

    monkeypatch.setattr(SqlStore, "get_application", explode)
    response = await client.post(
        "/otp/send", json={"usage": "reset_password", "email": EMAIL}, headers=WEB_AUTH
    )
    body = assert_error(response, 500, "server_error")
    assert body["error_description"] == ERROR_SPECS[ErrorCode.SERVER_ERROR].meaning
    for leak in ("Traceback", "RuntimeError", "db-internal", "5432", "explode", ".py"):
        assert leak not in response.text


async def test_an_unmigrated_database_is_a_server_error_without_details(
    database_url: str, outbox: Path
) -> None:
    async with AsyncTestClient(app=create_app(make_settings(database_url, outbox))) as client:
        response = await client.post(
            "/otp/send", json={"usage": "reset_password", "email": EMAIL}, headers=WEB_AUTH
        )
    assert_error(response, 500, "server_error")
    assert "applications" not in response.text
    assert "sqlite" not in response.text.lower()
