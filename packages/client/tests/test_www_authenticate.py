"""Reading the error of a Bearer challenge from WWW-Authenticate header values."""

from __future__ import annotations

import pytest

from ciam_client._www_authenticate import bearer_error
from ciam_shared import ErrorBody


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (['Bearer error="invalid_token"'], ErrorBody(error="invalid_token")),
        (
            [
                'Bearer error="invalid_request", '
                'error_description="Bearer token not found in the request"'
            ],
            ErrorBody(
                error="invalid_request",
                error_description="Bearer token not found in the request",
            ),
        ),
        (
            [
                'Bearer realm="ciam", error=invalid_token, '
                'error_description="Expired, sign in again"'
            ],
            ErrorBody(error="invalid_token", error_description="Expired, sign in again"),
        ),
        (
            ['bearer ERROR = "invalid_token" , Error_Description="a \\"quoted\\" \\\\ text"'],
            ErrorBody(error="invalid_token", error_description='a "quoted" \\ text'),
        ),
        (
            ['Basic realm="ciam", Bearer realm="ciam", error="invalid_token"'],
            ErrorBody(error="invalid_token"),
        ),
        (['Basic dXNlcjpwYXNz==, Bearer error="invalid_token"'], ErrorBody(error="invalid_token")),
        (['Basic realm="ciam"', 'Bearer error="invalid_token"'], ErrorBody(error="invalid_token")),
        (['Bearer realm="ciam"', 'Bearer error="invalid_token"'], ErrorBody(error="invalid_token")),
        (
            ['Bearer error="invalid_token", error="invalid_request"'],
            ErrorBody(error="invalid_token"),
        ),
    ],
)
def test_the_error_of_the_bearer_challenge(headers: list[str], expected: ErrorBody) -> None:
    assert bearer_error(headers) == expected


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [""],
        ["Bearer"],
        ['Bearer realm="ciam"'],
        ['Basic realm="ciam", error="invalid_token"'],
        ['Bearer realm="ciam", Basic error="invalid_token"'],
        ['Bearerish error="invalid_token"'],
        ['error="invalid_token"'],
        ['Bearer error="unterminated'],
        ['Bearer realm="ciam" garbage "here", error="invalid_token"'],
    ],
)
def test_no_bearer_error(headers: list[str]) -> None:
    assert bearer_error(headers) is None
