"""Every error leaves the server in the contract's shape: ``{"error", "error_description"}``.

Framework errors (unknown path, wrong method, oversized or undecodable body, unexpected
exceptions) are mapped onto registry codes here, so no framework-shaped body or HTML page ever
reaches a client. Request bodies are never echoed: they hold passwords and codes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from ciam_server.api.body import NestedTooDeepError
from ciam_server.domain.errors import FlowError
from ciam_shared import ERROR_CONTENT_TYPE, ERROR_SPECS, ErrorBody, ErrorCode, status_of

logger = logging.getLogger(__name__)

_CODE_BY_STATUS = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.REQUEST_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.TOO_MANY_REQUESTS,
    503: ErrorCode.TEMPORARILY_UNAVAILABLE,
}


def error_response(
    code: ErrorCode,
    description: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    """The response for ``code``, with the status the registry gives it. Every error has a
    description: without one of its own, the registry's meaning of the code."""
    all_headers = dict(headers or {})
    if code is ErrorCode.INVALID_CLIENT:
        all_headers["WWW-Authenticate"] = 'Basic realm="ciam"'
    if code is ErrorCode.INVALID_TOKEN:
        all_headers["WWW-Authenticate"] = _bearer_challenge(code, description)
    return Response(
        content=msgspec.json.encode(
            ErrorBody(error=code.value, error_description=description or ERROR_SPECS[code].meaning)
        ),
        status_code=status_of(code),
        media_type=ERROR_CONTENT_TYPE,
        headers=all_headers,
    )


class BearerTokenMissingError(FlowError):
    """A call that needs a bearer access token came without one (RFC 6750 §3.1)."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.INVALID_REQUEST, "Bearer token not found in the request")


def _bearer_challenge(code: ErrorCode, description: str | None) -> str:
    """The ``WWW-Authenticate: Bearer`` challenge of RFC 6750 §3; descriptions are the
    server's own sentences, without quotes or backslashes."""
    challenge = f'Bearer error="{code.value}"'
    if description:
        challenge += f', error_description="{description}"'
    return challenge


def flow_error_response(exc: FlowError) -> Response[bytes]:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    if isinstance(exc, BearerTokenMissingError):
        headers["WWW-Authenticate"] = _bearer_challenge(exc.code, exc.description)
    return error_response(exc.code, exc.description, headers=headers)


def _flow_error(_: Request[Any, Any, Any], exc: FlowError) -> Response[bytes]:
    return flow_error_response(exc)


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    """A body that is JSON but not of the documented shape: name the offending field."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    for problem in problems:
        if isinstance(problem, dict) and problem.get("key") not in (None, "data"):
            return error_response(
                ErrorCode.INVALID_REQUEST, f"{problem['key']}: {problem.get('message')}"
            )
    return error_response(ErrorCode.INVALID_REQUEST, "The request body must be a JSON object.")


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    code = _CODE_BY_STATUS.get(exc.status_code)
    if code is ErrorCode.TOO_MANY_REQUESTS:
        # The limit tells when a place frees (RateLimit-Reset); Retry-After says it plainly.
        headers = dict(exc.headers or {})
        headers["Retry-After"] = headers.get("RateLimit-Reset", "60")
        return error_response(code, "Too many requests from this address.", headers=headers)
    if code is not None:
        return error_response(code, headers=exc.headers)
    if exc.status_code >= 500:
        return _server_error(_, exc)
    # Litestar's remaining client errors come from undecodable bodies (malformed JSON,
    # invalid UTF-8); its detail names the byte offset, never the content.
    return error_response(
        ErrorCode.INVALID_REQUEST, f"The request body is not valid JSON: {exc.detail}"
    )


def _undecodable_text(_: Request[Any, Any, Any], __: UnicodeDecodeError) -> Response[bytes]:
    """Invalid UTF-8 inside a JSON string escapes Litestar's decoder as a bare
    ``UnicodeDecodeError``. Not logged: the exception holds the raw bytes, maybe a password."""
    return error_response(ErrorCode.INVALID_REQUEST, "The request body is not valid UTF-8.")


def _nested_too_deep(_: Request[Any, Any, Any], __: NestedTooDeepError) -> Response[bytes]:
    """Logged in one line: a traceback for each of these would let anyone flood the log."""
    logger.warning("refused a request body nested too deep to decode")
    return error_response(ErrorCode.INVALID_REQUEST, "The request body is nested too deeply.")


def not_found_in_json(response: Response[Any]) -> Response[Any]:
    """An ``after_request`` hook for routers whose handlers answer 404 themselves (Litestar's
    OpenAPI router serves an HTML page for unknown paths under ``/schema``)."""
    if response.status_code == 404:
        return error_response(ErrorCode.NOT_FOUND)
    return response


def _server_error(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    logger.error("unhandled %s", type(exc).__name__, exc_info=exc)
    return error_response(ErrorCode.SERVER_ERROR)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    FlowError: _flow_error,
    ValidationException: _validation_error,
    UnicodeDecodeError: _undecodable_text,
    NestedTooDeepError: _nested_too_deep,
    HTTPException: _http_error,
    Exception: _server_error,
}
