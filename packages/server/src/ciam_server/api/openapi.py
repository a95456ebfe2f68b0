"""The error responses each endpoint documents, derived from the registry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example

from ciam_shared import ERROR_SPECS, ErrorBody, ErrorCode

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
