"""The registry of error codes: every code the API can answer, its HTTP status and its meaning.

Everything else derives from this module: the server's error responses, the OpenAPI error
documentation and the SDK's exception classes. A code added here and forgotten elsewhere makes a
test fail.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

import msgspec


class ErrorCode(StrEnum):
    """The value of the ``error`` field of an error response."""

    # Request and client authentication (RFC 6749 vocabulary).
    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    UNAUTHORIZED_CLIENT = "unauthorized_client"

    # /otp/send
    MALFORMED_EMAIL = "malformed_email"
    MALFORMED_PHONE_NUMBER = "malformed_phone_number"
    INVALID_EMAIL = "invalid_email"
    INSUFFICIENT_EMAIL_QUOTA = "insufficient_email_quota"
    INSUFFICIENT_SMS_QUOTA = "insufficient_sms_quota"
    EMAIL_RATE_LIMIT_EXCEEDED = "email_rate_limit_exceeded"
    SMS_RATE_LIMIT_EXCEEDED = "sms_rate_limit_exceeded"
    EMAIL_IS_USED = "email_is_used"
    PHONE_NUMBER_IS_USED = "phone_number_is_used"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"

    # /reset_user_password
    BAD_EMAIL_OTP_TOKEN = "bad_email_otp_token"  # noqa: S105 - an error code, not a secret
    BAD_EMAIL_OTP = "bad_email_otp"
    BAD_PHONE_NUMBER_OTP_TOKEN = "bad_phone_number_otp_token"  # noqa: S105
    BAD_PHONE_NUMBER_OTP = "bad_phone_number_otp"
    USER_NOT_FOUND = "user_not_found"
    ABNORMAL_USER_STATUS = "abnormal_user_status"
    INVALID_NEW_PASSWORD = "invalid_new_password"  # noqa: S105
    RECURRENT_PASSWORD = "recurrent_password"  # noqa: S105

    # /oauth2/token, /oauth2/revoke (RFC 6749 §5.2, RFC 7009)
    INVALID_GRANT = "invalid_grant"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    INVALID_SCOPE = "invalid_scope"
    UNSUPPORTED_TOKEN_TYPE = "unsupported_token_type"  # noqa: S105 - an error code

    # /change_user_password, /userinfo (a bearer access token, RFC 6750)
    INVALID_TOKEN = "invalid_token"  # noqa: S105
    WRONG_OLD_PASSWORD = "wrong_old_password"  # noqa: S105
    DUPLICATE_PASSWORD = "duplicate_password"  # noqa: S105

    # Any endpoint: idempotent retries, limits and framework-level failures.
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    TOO_MANY_REQUESTS = "too_many_requests"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    REQUEST_TOO_LARGE = "request_too_large"
    SERVER_ERROR = "server_error"


class ErrorSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What a code means: the HTTP status it is sent with and when it happens."""

    status: int
    meaning: str


_SPECS: dict[ErrorCode, ErrorSpec] = {
    ErrorCode.INVALID_REQUEST: ErrorSpec(
        status=400,
        meaning="A parameter is missing, malformed or of the wrong type; the description names it.",
    ),
    ErrorCode.INVALID_CLIENT: ErrorSpec(
        status=401,
        meaning="Client authentication failed: unknown client, wrong or missing secret, "
        "or the Authorization header and the body name different clients.",
    ),
    ErrorCode.UNAUTHORIZED_CLIENT: ErrorSpec(
        status=400,
        meaning="The application is not allowed to make this call (a public application that "
        "is not enabled for /otp/send, or that asks for the client_credentials grant).",
    ),
    ErrorCode.MALFORMED_EMAIL: ErrorSpec(status=400, meaning="The email is not a valid address."),
    ErrorCode.MALFORMED_PHONE_NUMBER: ErrorSpec(
        status=400, meaning="The phone number is not a valid number."
    ),
    ErrorCode.INVALID_EMAIL: ErrorSpec(
        status=400, meaning="The address is refused (blocklisted or undeliverable)."
    ),
    ErrorCode.INSUFFICIENT_EMAIL_QUOTA: ErrorSpec(
        status=400, meaning="The application's email quota is used up."
    ),
    ErrorCode.INSUFFICIENT_SMS_QUOTA: ErrorSpec(
        status=400, meaning="The application's SMS quota is used up."
    ),
    ErrorCode.EMAIL_RATE_LIMIT_EXCEEDED: ErrorSpec(
        status=400,
        meaning="Too many codes sent to this email address; retry after Retry-After seconds.",
    ),
    ErrorCode.SMS_RATE_LIMIT_EXCEEDED: ErrorSpec(
        status=400,
        meaning="Too many codes sent to this phone number; retry after Retry-After seconds.",
    ),
    ErrorCode.EMAIL_IS_USED: ErrorSpec(
        status=400, meaning="(signup only) The email address is already registered."
    ),
    ErrorCode.PHONE_NUMBER_IS_USED: ErrorSpec(
        status=400, meaning="(signup only) The phone number is already registered."
    ),
    ErrorCode.TEMPORARILY_UNAVAILABLE: ErrorSpec(
        status=503, meaning="The code could not be sent or the server is busy; try again later."
    ),
    ErrorCode.BAD_EMAIL_OTP_TOKEN: ErrorSpec(
        status=400,
        meaning="The email_otp_token is wrong, expired or used up, or was issued for another "
        "email address, application or purpose.",
    ),
    ErrorCode.BAD_EMAIL_OTP: ErrorSpec(
        status=400, meaning="The email_otp code is wrong or has expired."
    ),
    ErrorCode.BAD_PHONE_NUMBER_OTP_TOKEN: ErrorSpec(
        status=400,
        meaning="The phone_number_otp_token is wrong, expired or used up, or was issued for "
        "another phone number, application or purpose.",
    ),
    ErrorCode.BAD_PHONE_NUMBER_OTP: ErrorSpec(
        status=400, meaning="The phone_number_otp code is wrong or has expired."
    ),
    ErrorCode.USER_NOT_FOUND: ErrorSpec(
        status=400, meaning="No user has this email address or phone number."
    ),
    ErrorCode.ABNORMAL_USER_STATUS: ErrorSpec(
        status=400,
        meaning="The user's account does not allow this (the user is frozen or locked).",
    ),
    ErrorCode.INVALID_NEW_PASSWORD: ErrorSpec(
        status=400,
        meaning="The new password breaks the password policy; the description names the rule.",
    ),
    ErrorCode.RECURRENT_PASSWORD: ErrorSpec(
        status=400, meaning="The new password is the current one or one of the recent ones."
    ),
    ErrorCode.INVALID_GRANT: ErrorSpec(
        status=400,
        meaning="The username and password, or the refresh token, are not valid (wrong, "
        "unknown, expired, revoked, or the user may not sign in).",
    ),
    ErrorCode.UNSUPPORTED_GRANT_TYPE: ErrorSpec(
        status=400, meaning="The grant_type is not one this server supports."
    ),
    ErrorCode.INVALID_SCOPE: ErrorSpec(
        status=400, meaning="The scope asked for is unknown or not allowed."
    ),
    ErrorCode.UNSUPPORTED_TOKEN_TYPE: ErrorSpec(
        status=400, meaning="The server cannot revoke this type of token."
    ),
    ErrorCode.INVALID_TOKEN: ErrorSpec(
        status=401,
        meaning="The bearer access token is malformed, expired, revoked, or lacks the scope "
        "the call needs.",
    ),
    ErrorCode.WRONG_OLD_PASSWORD: ErrorSpec(
        status=400, meaning="The old_password is not the current password."
    ),
    ErrorCode.DUPLICATE_PASSWORD: ErrorSpec(
        status=400, meaning="The new_password is the current password."
    ),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: ErrorSpec(
        status=422,
        meaning="The Idempotency-Key was already used by this client with another request; "
        "use a new key for a new request.",
    ),
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: ErrorSpec(
        status=409,
        meaning="A request with this Idempotency-Key is still being processed; retry after "
        "Retry-After seconds to get its answer.",
    ),
    ErrorCode.TOO_MANY_REQUESTS: ErrorSpec(
        status=429, meaning="Too many requests; retry after Retry-After seconds."
    ),
    ErrorCode.NOT_FOUND: ErrorSpec(status=404, meaning="No such endpoint."),
    ErrorCode.METHOD_NOT_ALLOWED: ErrorSpec(
        status=405, meaning="The endpoint does not accept this HTTP method."
    ),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: ErrorSpec(
        status=415, meaning="The request body must be application/json."
    ),
    ErrorCode.REQUEST_TOO_LARGE: ErrorSpec(
        status=413, meaning="The request body is larger than the server accepts."
    ),
    ErrorCode.SERVER_ERROR: ErrorSpec(status=500, meaning="An unexpected error on the server."),
}

ERROR_SPECS: MappingProxyType[ErrorCode, ErrorSpec] = MappingProxyType(_SPECS)
"""Every :class:`ErrorCode` with its :class:`ErrorSpec`, complete (checked at import)."""

_missing = set(ErrorCode) - set(_SPECS)
if _missing:  # pragma: no cover - guards edits to this module
    raise RuntimeError(f"error codes without a spec: {sorted(_missing)}")


def status_of(code: ErrorCode) -> int:
    """The HTTP status an error code is sent with."""
    return ERROR_SPECS[code].status
