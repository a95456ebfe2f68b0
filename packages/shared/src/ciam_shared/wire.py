"""Request and response bodies of the API, shared by the server and the SDK.

Every field of a request is optional at the wire level: the server decides what a missing field
means and answers ``invalid_request`` naming it, so that its messages, not the decoder's, reach
the caller. Unknown fields are ignored, as OAuth servers do. Secret fields never appear in a
``repr``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

import msgspec

MASK = "***"

_NO_NUL = "^[^\x00]*$"


# Strings of bounded length without NUL: longer input is refused before any work, and NUL
# never reaches a database or a log.
ClientId = Annotated[str, msgspec.Meta(max_length=255, pattern=_NO_NUL)]
ClientSecret = Annotated[str, msgspec.Meta(max_length=255, pattern=_NO_NUL)]
UsageText = Annotated[str, msgspec.Meta(max_length=32, pattern=_NO_NUL)]
EmailText = Annotated[str, msgspec.Meta(max_length=320, pattern=_NO_NUL)]
PhoneText = Annotated[str, msgspec.Meta(max_length=64, pattern=_NO_NUL)]
OtpText = Annotated[str, msgspec.Meta(max_length=32, pattern=_NO_NUL)]
OtpTokenText = Annotated[str, msgspec.Meta(max_length=256, pattern=_NO_NUL)]
PasswordText = Annotated[str, msgspec.Meta(max_length=1024, pattern=_NO_NUL)]
"""Generous next to the password policy's maximum, so that the policy names the rule broken."""


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

    client_id: ClientId | None = None
    client_secret: ClientSecret | None = None
    usage: UsageText = Usage.LOGIN.value
    email: EmailText | None = None
    phone_number: PhoneText | None = None


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

    client_id: ClientId | None = None
    client_secret: ClientSecret | None = None
    password: PasswordText | None = None
    email: EmailText | None = None
    email_otp_token: OtpTokenText | None = None
    email_otp: OtpText | None = None
    phone_number: PhoneText | None = None
    phone_number_otp_token: OtpTokenText | None = None
    phone_number_otp: OtpText | None = None


class GrantType(StrEnum):
    """The ``grant_type`` values of ``POST /oauth2/token``."""

    PASSWORD = "password"  # noqa: S105 - a grant name, not a secret
    REFRESH_TOKEN = "refresh_token"  # noqa: S105
    CLIENT_CREDENTIALS = "client_credentials"


class TokenRequest(_MaskedStruct, frozen=True, kw_only=True):
    """Form body (``application/x-www-form-urlencoded``) of ``POST /oauth2/token``."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset(
        {"client_secret", "password", "refresh_token"}
    )

    grant_type: Annotated[str, msgspec.Meta(max_length=64, pattern=_NO_NUL)] | None = None
    client_id: ClientId | None = None
    client_secret: ClientSecret | None = None
    auth_source_id: Annotated[str, msgspec.Meta(max_length=255, pattern=_NO_NUL)] | None = None
    username: EmailText | None = None
    """The user's email address or phone number, normalized as at reset."""
    password: PasswordText | None = None
    scope: Annotated[str, msgspec.Meta(max_length=255, pattern=_NO_NUL)] | None = None
    refresh_token: OtpTokenText | None = None


class TokenResponse(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Body of a successful ``POST /oauth2/token`` (RFC 6749 §5.1, OpenID Connect)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str | None = None
    refresh_token: str | None = None
    id_token: str | None = None

    def __repr__(self) -> str:
        return (
            f"TokenResponse(token_type={self.token_type!r}, expires_in={self.expires_in!r}, "
            f"scope={self.scope!r})"
        )


class RevokeRequest(_MaskedStruct, frozen=True, kw_only=True):
    """Form body of ``POST /oauth2/revoke`` (RFC 7009)."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"client_secret", "token"})

    token: OtpTokenText | None = None
    token_type_hint: Annotated[str, msgspec.Meta(max_length=64, pattern=_NO_NUL)] | None = None
    client_id: ClientId | None = None
    client_secret: ClientSecret | None = None


class ChangeUserPasswordRequest(_MaskedStruct, frozen=True, kw_only=True):
    """Body of ``POST /change_user_password`` (with a bearer access token)."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"old_password", "new_password"})

    old_password: PasswordText | None = None
    new_password: PasswordText | None = None


class UserInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Body of ``GET /userinfo`` (OpenID Connect UserInfo)."""

    sub: str
    email: str | None = None
    phone_number: str | None = None


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Body of every error response.

    ``error`` is decoded as a plain string, not as :class:`~ciam_shared.errors.ErrorCode`, so that
    an older client survives a server that has learned a new code.
    """

    error: str
    error_description: str | None = None


ERROR_CONTENT_TYPE = "application/json;charset=UTF-8"
"""The Content-Type of every error response."""
