"""What the OpenAPI document says beyond the handlers' types: the error responses each endpoint
documents (derived from the registry), the rules a request body must follow that the wire structs
leave to the server, and the headers responses carry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Example,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
)

from ciam_server.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from ciam_server.api.request_id import HEADER as REQUEST_ID_HEADER
from ciam_server.domain.identifiers import MAX_EMAIL_LENGTH
from ciam_shared import ERROR_SPECS, ErrorBody, ErrorCode, Usage

# Errors any POST endpoint can answer, whatever its flow.
COMMON_ERRORS = (
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_CLIENT,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.REQUEST_TOO_LARGE,
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ErrorCode.IDEMPOTENCY_KEY_IN_USE,
    ErrorCode.TOO_MANY_REQUESTS,
    ErrorCode.SERVER_ERROR,
)

OTP_SEND_ERRORS = (
    *COMMON_ERRORS,
    ErrorCode.UNAUTHORIZED_CLIENT,
    ErrorCode.MALFORMED_EMAIL,
    ErrorCode.MALFORMED_PHONE_NUMBER,
    ErrorCode.INSUFFICIENT_EMAIL_QUOTA,
    ErrorCode.INSUFFICIENT_SMS_QUOTA,
    ErrorCode.EMAIL_RATE_LIMIT_EXCEEDED,
    ErrorCode.SMS_RATE_LIMIT_EXCEEDED,
    ErrorCode.TEMPORARILY_UNAVAILABLE,
)

RESET_ERRORS = (
    *COMMON_ERRORS,
    ErrorCode.MALFORMED_EMAIL,
    ErrorCode.MALFORMED_PHONE_NUMBER,
    ErrorCode.BAD_EMAIL_OTP_TOKEN,
    ErrorCode.BAD_EMAIL_OTP,
    ErrorCode.BAD_PHONE_NUMBER_OTP_TOKEN,
    ErrorCode.BAD_PHONE_NUMBER_OTP,
    ErrorCode.EMAIL_RATE_LIMIT_EXCEEDED,
    ErrorCode.SMS_RATE_LIMIT_EXCEEDED,
    ErrorCode.USER_NOT_FOUND,
    ErrorCode.ABNORMAL_USER_STATUS,
    ErrorCode.INVALID_NEW_PASSWORD,
    ErrorCode.RECURRENT_PASSWORD,
    ErrorCode.TEMPORARILY_UNAVAILABLE,
)


def error_responses(codes: Iterable[ErrorCode]) -> dict[int, ResponseSpec]:
    """One documented response per HTTP status, listing each code it can carry, with an
    example body per code."""
    by_status: dict[int, list[ErrorCode]] = defaultdict(list)
    for code in codes:
        by_status[ERROR_SPECS[code].status].append(code)
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            description="; ".join(f"`{code}`: {ERROR_SPECS[code].meaning}" for code in group),
            media_type="application/json;charset=UTF-8",
            examples=[
                Example(
                    id=code.value,
                    summary=code.value,
                    value={"error": code.value, "error_description": ERROR_SPECS[code].meaning},
                )
                for code in group
            ],
        )
        for status, group in sorted(by_status.items())
    }


# The wire structs leave every field optional so that the server, not the decoder, names what is
# missing (see ciam_shared.wire). What the server then requires, short of what only it can judge
# (a deliverable address, a real phone number, a live token, the right code), is stated here, so
# that a request valid by the document is never refused as invalid_request.
_GIVEN = {"type": "string", "minLength": 1}
_NOT_GIVEN = {"type": "null"}
# An address the server does not take is malformed_email, never accepted: internationalized
# addresses are taken, quoted local parts, domain literals and special-use domains are not.
_EMAIL = {**_GIVEN, "format": "idn-email", "maxLength": MAX_EMAIL_LENGTH}


def _one_channel(given: tuple[str, ...], not_given: tuple[str, ...]) -> dict[str, Any]:
    """``given`` present and non-empty, ``not_given`` absent or null."""
    return {
        "required": list(given),
        "properties": {
            **{field: _EMAIL if field == "email" else _GIVEN for field in given},
            **dict.fromkeys(not_given, _NOT_GIVEN),
        },
    }


_EMAIL_FIELDS = ("email", "email_otp_token", "email_otp")
_PHONE_FIELDS = ("phone_number", "phone_number_otp_token", "phone_number_otp")

OTP_SEND_BODY_RULES: dict[str, Any] = {
    "required": ["usage"],
    "all_of": [{"properties": {"usage": {"const": Usage.RESET_PASSWORD.value}}}],
    "one_of": [
        _one_channel(("email",), ("phone_number",)),
        _one_channel(("phone_number",), ("email",)),
    ],
}
"""``usage`` is ``reset_password`` (the only usage this server serves) and exactly one of
``email`` and ``phone_number`` is given."""

RESET_BODY_RULES: dict[str, Any] = {
    "required": ["password"],
    "all_of": [{"properties": {"password": _GIVEN}}],
    "one_of": [
        _one_channel(_EMAIL_FIELDS, _PHONE_FIELDS),
        _one_channel(_PHONE_FIELDS, _EMAIL_FIELDS),
    ],
}
"""A password and exactly one channel's triple: address, ``otp_token`` and code."""

IDEMPOTENCY_KEY_SCHEMA: dict[str, Any] = {
    "one_of": None,
    "type": OpenAPIType.STRING,
    "pattern": "^[!-~]{1,255}$",
}
"""1 to 255 visible ASCII characters."""


_REQUEST_ID = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING, pattern="^[A-Za-z0-9._:-]{1,128}$"),
    required=True,
    description="The request's id: the caller's own when it sent a sane one, else a new one.",
)
_WWW_AUTHENTICATE = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING),
    required=True,
    description="The authentication scheme the client must use: Basic.",
)


def _retry_after(*, required: bool) -> OpenAPIHeader:
    return OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER, minimum=0),
        required=required,
        description="Seconds to wait before retrying.",
    )


_IDEMPOTENT_REPLAYED = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING, const="true"),
    description="Present when this is the recorded answer to an earlier request with the same "
    f"{IDEMPOTENCY_HEADER}.",
)


def response_headers(status: int) -> dict[str, OpenAPIHeader]:
    """The headers a response with ``status`` carries."""
    headers = {REQUEST_ID_HEADER: _REQUEST_ID}
    if status in (200, 400):  # the outcomes of a flow, which an idempotency key records
        headers["Idempotent-Replayed"] = _IDEMPOTENT_REPLAYED
    if status == 401:
        headers["WWW-Authenticate"] = _WWW_AUTHENTICATE
    if status in (409, 429):
        headers["Retry-After"] = _retry_after(required=True)
    elif status in (400, 503):  # rate limits and quotas; a busy or failed delivery
        headers["Retry-After"] = _retry_after(required=False)
    return headers


@dataclass
class DocumentedOperation(Operation):
    """An operation whose responses document the headers they carry."""

    def __post_init__(self) -> None:
        for status, response in (self.responses or {}).items():
            if isinstance(response, OpenAPIResponse):
                response.headers = {**(response.headers or {}), **response_headers(int(status))}
