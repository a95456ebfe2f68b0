"""The exceptions the SDK raises.

::

    CiamError
    └── APIError
        ├── APIConnectionError ── APITimeoutError
        ├── APIResponseValidationError
        └── APIStatusError ── one leaf class per ErrorCode (some grouped by channel family)

Every code of the registry in :mod:`ciam_shared.errors` has exactly one leaf class, found by
:func:`error_class_for`; a code this SDK does not know yet raises :class:`APIStatusError` itself
with the raw code kept, so an older SDK keeps working against a newer server. The text of an
exception never contains the request body: it holds passwords, codes and secrets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import httpx

from ciam_client._retry_after import parse_retry_after
from ciam_shared import ERROR_SPECS, ErrorCode

REQUEST_ID_HEADER = "X-Request-ID"

INVALID_RESPONSE = "invalid_response"
"""The ``code`` of an :class:`APIStatusError` whose response body was not an error object."""


class CiamError(Exception):
    """Base class of every exception this SDK raises."""


class APIError(CiamError):
    """A call to the API failed: it could not be made, or the answer was an error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(APIError):
    """No answer: the server could not be reached or the connection broke.

    ``request_sent`` is ``False`` when no connection could be made (or taken from the pool), so
    the request never left this machine; ``True`` when it may have reached the server, which may
    have acted on it.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """No answer in time (connecting, sending, reading, or waiting for a pooled connection)."""


class APIResponseValidationError(APIError):
    """A success status came with a body that is not what the contract promises."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status_code = response.status_code
        self.request_id: str | None = response.headers.get(REQUEST_ID_HEADER)
        super().__init__(
            _with_request_id(
                self.request_id,
                f"{self.status_code}: the response body does not match the API contract",
            )
        )


class APIStatusError(APIError):
    """The API answered with an error status.

    ``code`` is the ``error`` field exactly as received (also for codes this SDK does not know)
    and ``description`` its ``error_description``. When the body was not a JSON error object (a
    proxy's HTML page, say), ``code`` is ``"server_error"`` for a 5xx status and
    ``"invalid_response"`` otherwise, and ``description`` says so.
    """

    code_enum: ClassVar[ErrorCode | None] = None
    """The registry code of a leaf class; ``None`` on this class and on the family classes."""

    def __init__(self, response: httpx.Response, *, code: str, description: str | None) -> None:
        self.response = response
        self.status_code = response.status_code
        self.code = code
        self.description = description
        self.request_id: str | None = response.headers.get(REQUEST_ID_HEADER)
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        text = f"{self.status_code} {code}"
        if description:
            text = f"{text}: {description}"
        super().__init__(_with_request_id(self.request_id, text))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give each leaf class the registry's meaning of its code as its docstring."""
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code_enum")
        if code is not None and cls.__doc__ is None:
            spec = ERROR_SPECS[code]
            cls.__doc__ = f"``{code}`` (HTTP {spec.status}): {spec.meaning}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
            f"request_id={self.request_id!r})"
        )


def _with_request_id(request_id: str | None, text: str) -> str:
    return f"[request_id: {request_id}] {text}" if request_id else text


# Families: one parent over the email and the phone variant of the same failure.


class MalformedIdentifierError(APIStatusError):
    """The email address or phone number is not valid."""


class RateLimitExceededError(APIStatusError):
    """Too many codes were sent to this email address or phone number; see ``retry_after``."""


class InsufficientQuotaError(APIStatusError):
    """The application's email or SMS quota is used up."""


class IdentifierIsUsedError(APIStatusError):
    """(signup only) The email address or phone number is already registered."""


class BadOtpTokenError(APIStatusError):
    """The otp_token is wrong, expired or used up, or was issued for another request."""


class BadOtpError(APIStatusError):
    """The one-time code is wrong or has expired."""


# One leaf per registry code.


class InvalidRequestError(APIStatusError):
    code_enum = ErrorCode.INVALID_REQUEST


class InvalidClientError(APIStatusError):
    code_enum = ErrorCode.INVALID_CLIENT


class UnauthorizedClientError(APIStatusError):
    code_enum = ErrorCode.UNAUTHORIZED_CLIENT


class MalformedEmailError(MalformedIdentifierError):
    code_enum = ErrorCode.MALFORMED_EMAIL


class MalformedPhoneNumberError(MalformedIdentifierError):
    code_enum = ErrorCode.MALFORMED_PHONE_NUMBER


class InvalidEmailError(APIStatusError):
    code_enum = ErrorCode.INVALID_EMAIL


class InsufficientEmailQuotaError(InsufficientQuotaError):
    code_enum = ErrorCode.INSUFFICIENT_EMAIL_QUOTA


class InsufficientSmsQuotaError(InsufficientQuotaError):
    code_enum = ErrorCode.INSUFFICIENT_SMS_QUOTA


class EmailRateLimitExceededError(RateLimitExceededError):
    code_enum = ErrorCode.EMAIL_RATE_LIMIT_EXCEEDED


class SmsRateLimitExceededError(RateLimitExceededError):
    code_enum = ErrorCode.SMS_RATE_LIMIT_EXCEEDED


class EmailIsUsedError(IdentifierIsUsedError):
    code_enum = ErrorCode.EMAIL_IS_USED


class PhoneNumberIsUsedError(IdentifierIsUsedError):
    code_enum = ErrorCode.PHONE_NUMBER_IS_USED


class TemporarilyUnavailableError(APIStatusError):
    code_enum = ErrorCode.TEMPORARILY_UNAVAILABLE


class BadEmailOtpTokenError(BadOtpTokenError):
    code_enum = ErrorCode.BAD_EMAIL_OTP_TOKEN


class BadEmailOtpError(BadOtpError):
    code_enum = ErrorCode.BAD_EMAIL_OTP


class BadPhoneNumberOtpTokenError(BadOtpTokenError):
    code_enum = ErrorCode.BAD_PHONE_NUMBER_OTP_TOKEN


class BadPhoneNumberOtpError(BadOtpError):
    code_enum = ErrorCode.BAD_PHONE_NUMBER_OTP


class UserNotFoundError(APIStatusError):
    code_enum = ErrorCode.USER_NOT_FOUND


class AbnormalUserStatusError(APIStatusError):
    code_enum = ErrorCode.ABNORMAL_USER_STATUS


class InvalidNewPasswordError(APIStatusError):
    code_enum = ErrorCode.INVALID_NEW_PASSWORD


class RecurrentPasswordError(APIStatusError):
    code_enum = ErrorCode.RECURRENT_PASSWORD


class InvalidGrantError(APIStatusError):
    code_enum = ErrorCode.INVALID_GRANT


class UnsupportedGrantTypeError(APIStatusError):
    code_enum = ErrorCode.UNSUPPORTED_GRANT_TYPE


class InvalidScopeError(APIStatusError):
    code_enum = ErrorCode.INVALID_SCOPE


class UnsupportedTokenTypeError(APIStatusError):
    code_enum = ErrorCode.UNSUPPORTED_TOKEN_TYPE


class InvalidTokenError(APIStatusError):
    code_enum = ErrorCode.INVALID_TOKEN


class WrongOldPasswordError(APIStatusError):
    code_enum = ErrorCode.WRONG_OLD_PASSWORD


class DuplicatePasswordError(APIStatusError):
    code_enum = ErrorCode.DUPLICATE_PASSWORD


class IdempotencyKeyReusedError(APIStatusError):
    code_enum = ErrorCode.IDEMPOTENCY_KEY_REUSED


class IdempotencyKeyInUseError(APIStatusError):
    code_enum = ErrorCode.IDEMPOTENCY_KEY_IN_USE


class TooManyRequestsError(APIStatusError):
    code_enum = ErrorCode.TOO_MANY_REQUESTS


class NotFoundError(APIStatusError):
    code_enum = ErrorCode.NOT_FOUND


class MethodNotAllowedError(APIStatusError):
    code_enum = ErrorCode.METHOD_NOT_ALLOWED


class UnsupportedMediaTypeError(APIStatusError):
    code_enum = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class RequestTooLargeError(APIStatusError):
    code_enum = ErrorCode.REQUEST_TOO_LARGE


class ServerError(APIStatusError):
    code_enum = ErrorCode.SERVER_ERROR


def index_leaf_classes(
    root: type[APIStatusError], codes: Iterable[ErrorCode]
) -> dict[str, type[APIStatusError]]:
    """Map each code to the class under ``root`` that names it in its own ``code_enum``.

    Raises ``RuntimeError`` when two classes name the same code or a code has no class, so that a
    code added to the registry without its exception class stops this module from importing.
    """
    index: dict[str, type[APIStatusError]] = {}
    pending = [root]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        code = cls.__dict__.get("code_enum")
        if code is None:
            continue
        if code in index:
            raise RuntimeError(f"{code!s} has two classes: {index[code].__name__}, {cls.__name__}")
        index[code] = cls
    missing = sorted(str(code) for code in set(codes) - set(index))
    if missing:
        raise RuntimeError(f"error codes without an exception class: {missing}")
    return index


# Built once, at import, before any caller can subclass: later subclasses are not indexed.
_CLASS_BY_CODE = index_leaf_classes(APIStatusError, ErrorCode)


def error_class_for(code: str) -> type[APIStatusError]:
    """The exception class for an ``error`` code; :class:`APIStatusError` for an unknown one."""
    return _CLASS_BY_CODE.get(code, APIStatusError)
