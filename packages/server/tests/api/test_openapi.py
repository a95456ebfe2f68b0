"""The OpenAPI document: valid OpenAPI 3.1; every error code each endpoint can answer, under the
status the registry gives it, with the ErrorBody schema; HTTP Basic as an optional security
scheme; request bodies that generators read as one object each, with rules the server keeps; and
no example made up by the framework."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from ciam_server.api.openapi import (
    CHANGE_PASSWORD_BODY_RULES,
    CHANGE_PASSWORD_ERRORS,
    OTP_SEND_BODY_RULES,
    OTP_SEND_ERRORS,
    RESET_BODY_RULES,
    RESET_ERRORS,
    REVOKE_BODY_RULES,
    REVOKE_ERRORS,
    TOKEN_BODY_RULES,
    TOKEN_ERRORS,
    USERINFO_ERRORS,
)
from ciam_shared import (
    ERROR_CONTENT_TYPE,
    ErrorCode,
    OtpSendRequest,
    ResetUserPasswordRequest,
    status_of,
)

from .support import EMAIL, SPA_CLIENT_ID, WEB_AUTH

Client = AsyncTestClient[Litestar]

ENDPOINTS = [("/otp/send", OTP_SEND_ERRORS), ("/reset_user_password", RESET_ERRORS)]
OPERATIONS = [
    *((path, "post", codes) for path, codes in ENDPOINTS),
    ("/oauth2/token", "post", TOKEN_ERRORS),
    ("/oauth2/revoke", "post", REVOKE_ERRORS),
    ("/change_user_password", "post", CHANGE_PASSWORD_ERRORS),
    ("/userinfo", "get", USERINFO_ERRORS),
]
"""Every operation that answers errors, with the codes it documents."""


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


@pytest.mark.parametrize(("path", "method", "codes"), OPERATIONS)
def test_every_code_is_an_example_under_its_registry_status(
    document: dict[str, Any], path: str, method: str, codes: tuple[ErrorCode, ...]
) -> None:
    responses = document["paths"][path][method]["responses"]
    for code in codes:
        response = responses.get(str(status_of(code)))
        assert response is not None, f"{path}: no {status_of(code)} response for {code}"
        examples = response["content"][ERROR_CONTENT_TYPE]["examples"]
        assert code.value in examples, f"{path}: {code} is not documented"
        assert examples[code.value]["value"]["error"] == code.value
        assert f"`{code.value}`" in response["description"]


@pytest.mark.parametrize(("path", "method", "codes"), OPERATIONS)
def test_no_code_is_documented_under_another_status(
    document: dict[str, Any], path: str, method: str, codes: tuple[ErrorCode, ...]
) -> None:
    responses = document["paths"][path][method]["responses"]
    documented = {
        (int(status), example)
        for status, response in responses.items()
        if int(status) >= 400
        for example in response["content"][ERROR_CONTENT_TYPE]["examples"]
    }
    assert documented == {(status_of(code), code.value) for code in codes}


@pytest.mark.parametrize(("path", "method", "codes"), OPERATIONS)
def test_error_responses_have_the_error_body_schema(
    document: dict[str, Any], path: str, method: str, codes: tuple[ErrorCode, ...]
) -> None:
    responses = document["paths"][path][method]["responses"]
    error_statuses = {str(status_of(code)) for code in codes}
    for status in error_statuses:
        content = responses[status]["content"]
        assert list(content) == [ERROR_CONTENT_TYPE]
        schema = resolve(document, content[ERROR_CONTENT_TYPE]["schema"])
        assert set(schema["properties"]) == {"error", "error_description"}
        assert schema["required"] == ["error"]
        assert schema["properties"]["error"]["type"] == "string"


def test_the_success_responses_are_documented(document: dict[str, Any]) -> None:
    send = document["paths"]["/otp/send"]["post"]["responses"]["200"]
    schema = resolve(document, send["content"]["application/json"]["schema"])
    assert set(schema["properties"]) == {"otp_token", "expires_in"}
    assert "200" in document["paths"]["/reset_user_password"]["post"]["responses"]


def test_the_bearer_calls_name_the_bearer_scheme(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/change_user_password"]["post"]["security"] == [{"bearer": []}]
    assert document["paths"]["/userinfo"]["get"]["security"] == [{"bearer": []}]


def test_the_token_calls_take_a_form(document: dict[str, Any]) -> None:
    for path in ("/oauth2/token", "/oauth2/revoke"):
        content = document["paths"][path]["post"]["requestBody"]["content"]
        assert list(content) == ["application/x-www-form-urlencoded"], path


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_client_authentication_is_an_optional_http_basic_scheme(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["basic"]["type"] == "http"
    assert document["components"]["securitySchemes"]["basic"]["scheme"] == "basic"
    for path, _ in ENDPOINTS:
        operation = document["paths"][path]["post"]
        assert operation["security"] == [{"basic": []}, {}], path
        # OpenAPI says a header parameter named Authorization is ignored.
        names = {parameter["name"].lower() for parameter in operation["parameters"]}
        assert "authorization" not in names, path


REQUEST_BODIES = [("/otp/send", OtpSendRequest), ("/reset_user_password", ResetUserPasswordRequest)]


def request_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    body = document["paths"][path]["post"]["requestBody"]
    return resolve(document, body["content"]["application/json"]["schema"])


@pytest.mark.parametrize(("path", "struct"), REQUEST_BODIES)
def test_each_request_body_is_one_object_with_every_field(
    document: dict[str, Any], path: str, struct: type[msgspec.Struct]
) -> None:
    """Generators build one model per branch of a oneOf, anyOf or allOf at the top of a body's
    schema, each lacking the others' fields; an object with properties alone they keep whole."""
    schema = request_schema(document, path)

    assert schema["type"] == "object"
    assert set(schema["properties"]) == set(struct.__struct_fields__)
    assert not {"oneOf", "anyOf", "allOf"} & set(schema)
    assert "`email`" in schema["description"]
    assert "`phone_number`" in schema["description"]


EMAIL_TRIPLE = {"email": EMAIL, "email_otp_token": "a-token", "email_otp": "123456"}
PHONE_TRIPLE = {
    "phone_number": "+8613800138000",
    "phone_number_otp_token": "a-token",
    "phone_number_otp": "123456",
}
PASSWORD = {"password": "Zephyr-Quokka-Lantern-5521"}
RESET = "reset_password"

# Bodies and whether they keep the rules the document states. The server answers invalid_request
# to those that do not, and never to those that do.
BODY_RULE_CASES = [
    ("/otp/send", {"usage": RESET, "email": EMAIL}, True),
    ("/otp/send", {"usage": RESET, "phone_number": "+8613800138000", "email": None}, True),
    ("/otp/send", {"usage": RESET, "email": EMAIL, "phone_number": "+8613800138000"}, False),
    ("/otp/send", {"usage": RESET}, False),
    ("/otp/send", {"usage": RESET, "email": ""}, False),
    ("/otp/send", {"usage": "login", "email": EMAIL}, False),
    ("/otp/send", {"email": EMAIL}, False),
    ("/reset_user_password", {**EMAIL_TRIPLE, **PASSWORD}, True),
    ("/reset_user_password", {**PHONE_TRIPLE, **PASSWORD}, True),
    ("/reset_user_password", {**EMAIL_TRIPLE, **PHONE_TRIPLE, **PASSWORD}, False),
    ("/reset_user_password", {**EMAIL_TRIPLE, "phone_number": "+8613800138000", **PASSWORD}, False),
    ("/reset_user_password", {"email": EMAIL, "email_otp": "123456", **PASSWORD}, False),
    ("/reset_user_password", {**EMAIL_TRIPLE, "email_otp": "", **PASSWORD}, False),
    ("/reset_user_password", {**EMAIL_TRIPLE}, False),
    ("/reset_user_password", {**EMAIL_TRIPLE, "password": ""}, False),
    ("/reset_user_password", PASSWORD, False),
]


@pytest.mark.parametrize(("path", "body", "valid"), BODY_RULE_CASES)
async def test_the_body_rules_are_stated_and_kept_by_the_server(
    client: Client, document: dict[str, Any], path: str, body: dict[str, Any], valid: bool
) -> None:
    schema = request_schema(document, path)

    assert OAS31Validator(schema).is_valid(body) is valid
    response = await client.post(path, json=body, headers=WEB_AUTH)
    refused_as_invalid = response.json().get("error") == ErrorCode.INVALID_REQUEST
    assert refused_as_invalid is not valid, response.text


async def test_a_public_application_needs_no_credentials_beyond_its_client_id(
    client: Client,
) -> None:
    """The empty alternative in each endpoint's security."""
    response = await client.post(
        "/otp/send", json={"client_id": SPA_CLIENT_ID, "usage": RESET, "email": EMAIL}
    )
    assert response.status_code == 200, response.text


def examples_in(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """Every ``examples`` in the document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "examples":
                yield where, value
            yield from examples_in(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from examples_in(value, f"{where}/{index}")


def test_the_only_schema_examples_are_the_request_bodies_written_for_them(
    document: dict[str, Any],
) -> None:
    """No example made up by the framework (random strings and numbers) in any schema."""
    found = dict(examples_in(document["components"]["schemas"], "#/components/schemas"))
    assert found == {
        "#/components/schemas/OtpSendRequest": OTP_SEND_BODY_RULES["examples"],
        "#/components/schemas/ResetUserPasswordRequest": RESET_BODY_RULES["examples"],
        "#/components/schemas/TokenRequest": TOKEN_BODY_RULES["examples"],
        "#/components/schemas/RevokeRequest": REVOKE_BODY_RULES["examples"],
        "#/components/schemas/ChangeUserPasswordRequest": CHANGE_PASSWORD_BODY_RULES["examples"],
    }


def test_every_example_fits_its_schema(document: dict[str, Any]) -> None:
    checked = 0
    for path, _ in ENDPOINTS:
        operation = document["paths"][path]["post"]
        body_schema = request_schema(document, path)
        for example in body_schema["examples"]:
            assert OAS31Validator(body_schema).is_valid(example), (path, example)
            checked += 1
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                schema = resolve(document, media["schema"])
                for name, example in media.get("examples", {}).items():
                    assert set(example) == {"summary", "value"}, (path, status, name)
                    assert OAS31Validator(schema).is_valid(example["value"]), (path, name)
                    checked += 1
    assert checked > len(OTP_SEND_ERRORS) + len(RESET_ERRORS)
