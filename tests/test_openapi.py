"""The OpenAPI document the server serves lists every error code each endpoint can answer; Swagger
UI renders it at ``/schema``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ciam_client import APIStatusError, error_class_for
from ciam_server.api.openapi import (
    CHANGE_PASSWORD_ERRORS,
    OTP_SEND_ERRORS,
    RESET_ERRORS,
    REVOKE_ERRORS,
    SWAGGER_UI_VERSION,
    TOKEN_ERRORS,
    USERINFO_ERRORS,
)
from ciam_shared import ERROR_SPECS, ErrorCode

from .conftest import Server

ERROR_CONTENT_TYPE = "application/json;charset=UTF-8"

ENDPOINT_ERRORS = {
    "/otp/send": OTP_SEND_ERRORS,
    "/reset_user_password": RESET_ERRORS,
    "/oauth2/token": TOKEN_ERRORS,
    "/oauth2/revoke": REVOKE_ERRORS,
    "/change_user_password": CHANGE_PASSWORD_ERRORS,
    "/userinfo": USERINFO_ERRORS,
}
METHOD = {"/userinfo": "get"}
"""The operations' methods where not POST."""
PUBLISHED = {"/.well-known/openid-configuration", "/.well-known/jwks.json"}
"""Operations that answer no error of their own."""


@pytest.fixture(scope="module")
def openapi(server: Server) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def documented_errors(operation: dict[str, Any]) -> dict[str, int]:
    """Each error code the operation's examples carry, with the status it is listed under."""
    codes: dict[str, int] = {}
    for status, response in operation["responses"].items():
        if int(status) < 400:
            continue
        examples = response["content"][ERROR_CONTENT_TYPE]["examples"]
        for example in examples.values():
            code = example["value"]["error"]
            assert code not in codes, f"{code} is listed twice"
            codes[code] = int(status)
    return codes


@pytest.mark.parametrize("path", sorted(ENDPOINT_ERRORS))
def test_each_endpoint_documents_exactly_its_error_codes(
    openapi: dict[str, Any], path: str
) -> None:
    documented = documented_errors(openapi["paths"][path][METHOD.get(path, "post")])

    assert set(documented) == {code.value for code in ENDPOINT_ERRORS[path]}
    for code, status in documented.items():
        assert status == ERROR_SPECS[ErrorCode(code)].status, code


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/otp/send", "invalid_client"),
        ("/otp/send", "unauthorized_client"),
        ("/otp/send", "malformed_email"),
        ("/otp/send", "malformed_phone_number"),
        ("/reset_user_password", "bad_email_otp_token"),
        ("/reset_user_password", "bad_phone_number_otp"),
        ("/reset_user_password", "user_not_found"),
        ("/reset_user_password", "abnormal_user_status"),
        ("/reset_user_password", "invalid_new_password"),
        ("/reset_user_password", "recurrent_password"),
        ("/oauth2/token", "invalid_grant"),
        ("/oauth2/token", "unsupported_grant_type"),
        ("/oauth2/token", "invalid_scope"),
        ("/oauth2/token", "unauthorized_client"),
        ("/oauth2/token", "invalid_client"),
        ("/change_user_password", "wrong_old_password"),
        ("/change_user_password", "duplicate_password"),
        ("/change_user_password", "recurrent_password"),
        ("/change_user_password", "invalid_new_password"),
        ("/change_user_password", "user_not_found"),
        ("/change_user_password", "abnormal_user_status"),
        ("/change_user_password", "invalid_token"),
    ],
)
def test_the_errors_the_contract_names_are_documented(
    openapi: dict[str, Any], path: str, code: str
) -> None:
    assert code in documented_errors(openapi["paths"][path][METHOD.get(path, "post")])


def test_the_sdk_has_an_exception_class_for_every_documented_code(
    openapi: dict[str, Any],
) -> None:
    for path in ENDPOINT_ERRORS:
        for code in documented_errors(openapi["paths"][path][METHOD.get(path, "post")]):
            cls = error_class_for(code)
            assert cls is not APIStatusError, code
            assert cls.code_enum == code


def test_the_success_of_send_is_documented(openapi: dict[str, Any]) -> None:
    success = openapi["paths"]["/otp/send"]["post"]["responses"]["200"]
    schema_ref = success["content"]["application/json"]["schema"]["$ref"]
    schema = openapi["components"]["schemas"][schema_ref.rpartition("/")[2]]
    assert set(schema["properties"]) == {"otp_token", "expires_in"}


def test_the_schema_page_is_swagger_ui_showing_the_served_document(server: Server) -> None:
    page = httpx.get(f"{server.base_url}/schema")
    document = httpx.get(f"{server.base_url}/schema/openapi.json")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle(" in page.text
    assert f"swagger-ui-dist@{SWAGGER_UI_VERSION}/swagger-ui-bundle.js" in page.text
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/vnd.oai.openapi+json"
    assert set(document.json()["paths"]) == {*ENDPOINT_ERRORS, *PUBLISHED}
    assert document.text in page.text  # the page renders the document it embeds
