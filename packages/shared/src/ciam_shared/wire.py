"""Request and response bodies of the API, shared by the server and the SDK.

Every field of a request is optional at the wire level: the server decides what a missing field
means and answers ``invalid_request`` naming it, so that its messages, not the decoder's, reach
the caller. Unknown fields are ignored, as OAuth servers do. Secret fields never appear in a
``repr``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

import msgspec

MASK = "***"


class Usage(StrEnum):
    """What a one-time code is for (the ``usage`` field of ``/otp/send``)."""

    LOGIN = "login"
    SIGNUP = "signup"
    UPDATE_USERINFO = "update_userinfo"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a usage name, not a secret


class _MaskedStruct(msgspec.Struct, kw_only=True, frozen=True):
    """A Struct whose ``repr`` shows ``***`` in place of the fields named in ``_secret_fields``."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        parts = []
        for name in self.__struct_fields__:
            value: Any = getattr(self, name)
            if value is not None and name in self._secret_fields:
                value = MASK
            parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class OtpSendRequest(_MaskedStruct, frozen=True, kw_only=True):
    """Body of ``POST /otp/send``: exactly one of ``email`` and ``phone_number``."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"client_secret"})

    client_id: str | None = None
    client_secret: str | None = None
    usage: str = Usage.LOGIN.value
    email: str | None = None
    phone_number: str | None = None


class OtpSendResponse(msgspec.Struct, frozen=True, kw_only=True):
    """Body of a successful ``POST /otp/send``.

    ``otp_token`` is an opaque bearer value that names the challenge; ``expires_in`` (our
    addition to the contract) is the number of seconds the token stays usable.
    """

    otp_token: str
    expires_in: int

    def __repr__(self) -> str:
        return f"OtpSendResponse(otp_token={MASK!r}, expires_in={self.expires_in!r})"


class ResetUserPasswordRequest(_MaskedStruct, frozen=True, kw_only=True):
    """Body of ``POST /reset_user_password``: the new password and one channel's triple."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset(
        {
            "client_secret",
            "password",
            "email_otp",
            "email_otp_token",
            "phone_number_otp",
            "phone_number_otp_token",
        }
    )

    client_id: str | None = None
    client_secret: str | None = None
    password: str | None = None
    email: str | None = None
    email_otp_token: str | None = None
    email_otp: str | None = None
    phone_number: str | None = None
    phone_number_otp_token: str | None = None
    phone_number_otp: str | None = None


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Body of every error response.

    ``error`` is decoded as a plain string, not as :class:`~ciam_shared.errors.ErrorCode`, so that
    an older client survives a server that has learned a new code.
    """

    error: str
    error_description: str | None = None


ERROR_CONTENT_TYPE = "application/json;charset=UTF-8"
"""The Content-Type of every error response."""
