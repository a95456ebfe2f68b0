"""What the two clients share: building requests and reading responses.

A :class:`Call` says what to send, how to read the answer and whether it may be sent again; the
sync and async clients only differ in how they send it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlencode

import httpx
import msgspec

from ciam_client._exceptions import (
    INVALID_RESPONSE,
    APIResponseValidationError,
    error_class_for,
)
from ciam_client._retries import Repeat
from ciam_client._www_authenticate import bearer_error
from ciam_shared import ErrorBody, ErrorCode, OtpSendResponse, TokenResponse, UserInfo

T = TypeVar("T")

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

_encoder = msgspec.json.Encoder()
_error_decoder = msgspec.json.Decoder(ErrorBody)


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call: the request, the reader of its response and whether it may be repeated.

    ``headers`` (the call's own: its ``Content-Type`` and ``Authorization``) and ``content``
    hold secrets, so they are left out of the ``repr``.
    """

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    repeat: Repeat
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    content: bytes | None = field(default=None, repr=False)


def _present_fields(body: msgspec.Struct) -> dict[str, object]:
    """The fields of ``body`` that are not ``None``: an absent field is not sent at all."""
    return {name: value for name, value in msgspec.to_builtins(body).items() if value is not None}


def json_content(body: msgspec.Struct) -> bytes:
    return _encoder.encode(_present_fields(body))


def form_content(body: msgspec.Struct) -> bytes:
    """``body`` as ``application/x-www-form-urlencoded`` (UTF-8, as RFC 6749 Appendix B asks)."""
    return urlencode(_present_fields(body)).encode("ascii")


def require_one_channel(email: str | None, phone_number: str | None) -> None:
    """Refuse, before anything is sent, a call naming no channel or both."""
    if (email is None) == (phone_number is None):
        raise ValueError("pass exactly one of email and phone_number")


def _reader(kind: type[T]) -> Callable[[httpx.Response], T]:
    """A reader of responses whose success body is a ``kind``."""
    decoder = msgspec.json.Decoder(kind)

    def read(response: httpx.Response) -> T:
        raise_for_error(response)
        try:
            return decoder.decode(response.content)
        except msgspec.DecodeError as exc:
            raise APIResponseValidationError(response) from exc

    return read


read_otp_send = _reader(OtpSendResponse)
read_token = _reader(TokenResponse)
read_userinfo = _reader(UserInfo)


def read_nothing(response: httpx.Response) -> None:
    """Raise for an error answer; a success's body, if any, says nothing more."""
    raise_for_error(response)


def raise_for_error(response: httpx.Response) -> None:
    """Raise the exception class of the response's error code unless the status is 2xx.

    The code comes from the JSON error body or, without one, from the ``error`` of a ``Bearer``
    challenge in ``WWW-Authenticate``.
    """
    if response.is_success:
        return
    try:
        body: ErrorBody | None = _error_decoder.decode(response.content)
    except msgspec.DecodeError:
        body = bearer_error(response.headers.get_list("WWW-Authenticate"))
    if body is None:
        code = ErrorCode.SERVER_ERROR.value if response.is_server_error else INVALID_RESPONSE
        raise error_class_for(code)(
            response,
            code=code,
            description=f"HTTP {response.status_code} without a JSON error body",
        )
    raise error_class_for(body.error)(response, code=body.error, description=body.error_description)
