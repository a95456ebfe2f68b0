"""What the two clients share: building request bodies and reading responses.

A :class:`Call` says what to send and how to read the answer; the sync and async clients only
differ in how they send it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx
import msgspec

from ciam_client._exceptions import (
    INVALID_RESPONSE,
    APIResponseValidationError,
    error_class_for,
)
from ciam_shared import ErrorBody, ErrorCode, OtpSendResponse

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_otp_send_decoder = msgspec.json.Decoder(OtpSendResponse)
_error_decoder = msgspec.json.Decoder(ErrorBody)


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call: the path, the request body and the reader of the response."""

    path: str
    body: msgspec.Struct
    read: Callable[[httpx.Response], T]

    def content(self) -> bytes:
        """The JSON body without its ``None`` fields: an absent field is not sent as ``null``."""
        fields = msgspec.to_builtins(self.body)
        return _encoder.encode({name: value for name, value in fields.items() if value is not None})


def require_one_channel(email: str | None, phone_number: str | None) -> None:
    """Refuse, before anything is sent, a call naming no channel or both."""
    if (email is None) == (phone_number is None):
        raise ValueError("pass exactly one of email and phone_number")


def read_otp_send(response: httpx.Response) -> OtpSendResponse:
    raise_for_error(response)
    try:
        return _otp_send_decoder.decode(response.content)
    except msgspec.DecodeError as exc:
        raise APIResponseValidationError(response) from exc


def read_empty(response: httpx.Response) -> None:
    raise_for_error(response)


def raise_for_error(response: httpx.Response) -> None:
    """Raise the exception class of the response's error code unless the status is 2xx."""
    if response.is_success:
        return
    try:
        body = _error_decoder.decode(response.content)
    except msgspec.DecodeError as exc:
        code = ErrorCode.SERVER_ERROR.value if response.is_server_error else INVALID_RESPONSE
        raise error_class_for(code)(
            response,
            code=code,
            description=f"HTTP {response.status_code} without a JSON error body",
        ) from exc
    raise error_class_for(body.error)(response, code=body.error, description=body.error_description)
