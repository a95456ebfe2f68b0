"""The OpenAPI document lists, per endpoint, every error code under the status the registry gives
it, with the ErrorBody schema."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ciam_server.api.openapi import OTP_SEND_ERRORS, RESET_ERRORS
from ciam_shared import ERROR_CONTENT_TYPE, ErrorCode, status_of

Client = AsyncTestClient[Litestar]

ENDPOINTS = [("/otp/send", OTP_SEND_ERRORS), ("/reset_user_password", RESET_ERRORS)]


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


@pytest.mark.parametrize(("path", "codes"), ENDPOINTS)
def test_every_code_is_an_example_under_its_registry_status(
    document: dict[str, Any], path: str, codes: tuple[ErrorCode, ...]
) -> None:
    responses = document["paths"][path]["post"]["responses"]
    for code in codes:
        response = responses.get(str(status_of(code)))
        assert response is not None, f"{path}: no {status_of(code)} response for {code}"
        examples = response["content"][ERROR_CONTENT_TYPE]["examples"]
        assert code.value in examples, f"{path}: {code} is not documented"
        assert examples[code.value]["value"]["error"] == code.value
        assert f"`{code.value}`" in response["description"]


@pytest.mark.parametrize(("path", "codes"), ENDPOINTS)
def test_no_code_is_documented_under_another_status(
    document: dict[str, Any], path: str, codes: tuple[ErrorCode, ...]
) -> None:
    responses = document["paths"][path]["post"]["responses"]
    documented = {
        (int(status), example)
        for status, response in responses.items()
        if int(status) >= 400
        for example in response["content"][ERROR_CONTENT_TYPE]["examples"]
    }
    assert documented == {(status_of(code), code.value) for code in codes}


@pytest.mark.parametrize(("path", "codes"), ENDPOINTS)
def test_error_responses_have_the_error_body_schema(
    document: dict[str, Any], path: str, codes: tuple[ErrorCode, ...]
) -> None:
    responses = document["paths"][path]["post"]["responses"]
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
