"""What the OpenAPI document says beyond the handlers' types: the error responses each endpoint
documents (derived from the registry), the rules a request body must follow that the wire structs
leave to the server, the headers responses carry, the examples, and client authentication as a
security scheme; and where the document and Swagger UI are served."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Router
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)

from ciam_server.api.errors import not_found_in_json
from ciam_server.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from ciam_server.api.request_id import HEADER as REQUEST_ID_HEADER
from ciam_server.domain.identifiers import MAX_EMAIL_LENGTH
from ciam_shared import (
    ERROR_CONTENT_TYPE,
    ERROR_SPECS,
    ErrorBody,
    ErrorCode,
    OtpSendResponse,
    TokenResponse,
    Usage,
    UserInfo,
)

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

TOKEN_ERRORS = (
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_CLIENT,
    ErrorCode.UNAUTHORIZED_CLIENT,
    ErrorCode.INVALID_GRANT,
    ErrorCode.UNSUPPORTED_GRANT_TYPE,
    ErrorCode.INVALID_SCOPE,
    ErrorCode.REQUEST_TOO_LARGE,
    ErrorCode.TOO_MANY_REQUESTS,
    ErrorCode.TEMPORARILY_UNAVAILABLE,
    ErrorCode.SERVER_ERROR,
)

REVOKE_ERRORS = (
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_CLIENT,
    ErrorCode.UNSUPPORTED_TOKEN_TYPE,
    ErrorCode.REQUEST_TOO_LARGE,
    ErrorCode.TOO_MANY_REQUESTS,
    ErrorCode.SERVER_ERROR,
)

CHANGE_PASSWORD_ERRORS = (
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_TOKEN,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.REQUEST_TOO_LARGE,
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ErrorCode.IDEMPOTENCY_KEY_IN_USE,
    ErrorCode.TOO_MANY_REQUESTS,
    ErrorCode.SERVER_ERROR,
    ErrorCode.WRONG_OLD_PASSWORD,
    ErrorCode.DUPLICATE_PASSWORD,
    ErrorCode.RECURRENT_PASSWORD,
    ErrorCode.INVALID_NEW_PASSWORD,
    ErrorCode.USER_NOT_FOUND,
    ErrorCode.ABNORMAL_USER_STATUS,
    ErrorCode.TEMPORARILY_UNAVAILABLE,
)

USERINFO_ERRORS = (
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_TOKEN,
    ErrorCode.TOO_MANY_REQUESTS,
    ErrorCode.SERVER_ERROR,
)


class KeyedExample(Example):
    """An example whose ``id`` is only its key in the document: Litestar writes every field of
    :class:`~litestar.openapi.spec.Example` into the document, and an Example Object has no
    ``id``."""

    @property
    def _exclude_fields(self) -> set[str]:
        return {"id"}


def error_responses(codes: Iterable[ErrorCode]) -> dict[int, ResponseSpec]:
    """One documented response per HTTP status, listing each code it can carry, with an
    example body per code."""
    by_status: dict[int, list[ErrorCode]] = defaultdict(list)
    for code in codes:
        by_status[ERROR_SPECS[code].status].append(code)
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            generate_examples=False,
            description="; ".join(f"`{code}`: {ERROR_SPECS[code].meaning}" for code in group),
            media_type=ERROR_CONTENT_TYPE,
            examples=[
                KeyedExample(
                    id=code.value,
                    summary=code.value,
                    value={"error": code.value, "error_description": ERROR_SPECS[code].meaning},
                )
                for code in group
            ],
        )
        for status, group in sorted(by_status.items())
    }


EXAMPLE_TOKEN = "Nd4yqY0cS2hW7mZkT1vXbR8eJ3uLpA6gF9oQiC5wHsE"  # noqa: S105 - made up for the document
"""An ``otp_token`` as the server makes them: 256 random bits, base64url-encoded."""

OTP_SEND_SUCCESS = ResponseSpec(
    OtpSendResponse,
    generate_examples=False,
    description="The code is on its way.",
    examples=[
        KeyedExample(
            id="sent",
            summary="A code was sent",
            value={"otp_token": EXAMPLE_TOKEN, "expires_in": 600},
        )
    ],
)
RESET_SUCCESS = ResponseSpec(
    None, generate_examples=False, description="The password is reset; the body is empty."
)
EXAMPLE_JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.e30.c2lnbmF0dXJl"
"""A JWT's shape (three base64url parts), made up for the document."""
TOKEN_SUCCESS = ResponseSpec(
    TokenResponse,
    generate_examples=False,
    description="The tokens (RFC 6749 §5.1). `access_token` and `id_token` are RS256 JWTs "
    "that the keys at the JWKS verify; `refresh_token` is opaque and replaced at each use.",
    examples=[
        KeyedExample(
            id="signed_in",
            summary="Signed in with the openid scope",
            value={
                "access_token": EXAMPLE_JWT,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "openid",
                "refresh_token": EXAMPLE_TOKEN,
                "id_token": EXAMPLE_JWT,
            },
        )
    ],
)
REVOKE_SUCCESS = ResponseSpec(
    None,
    generate_examples=False,
    description="The token is revoked, or was not one this application holds; the body is empty.",
)
CHANGE_PASSWORD_SUCCESS = ResponseSpec(
    None,
    generate_examples=False,
    description="The password is changed and every earlier session ended; the body is empty.",
)
USERINFO_SUCCESS = ResponseSpec(
    UserInfo,
    generate_examples=False,
    description="The user's claims.",
    examples=[
        KeyedExample(
            id="user",
            summary="A user with an email address",
            value={"sub": "42", "email": "alice@example.com"},
        )
    ],
)
DISCOVERY_SUCCESS = ResponseSpec(
    dict[str, Any],
    generate_examples=False,
    description="OpenID Connect Discovery 1.0 provider metadata.",
)
JWKS_SUCCESS = ResponseSpec(
    dict[str, Any],
    generate_examples=False,
    description="The public keys (RFC 7517 JWK Set); during a key rotation, more than one.",
)


# The wire structs leave every field optional, so that the server, not the decoder, names what
# is missing (see ciam_shared.wire). What the server then requires, short of what only it can
# judge (a deliverable address, a real phone number, a live token, the right code), is stated
# below, so that a request valid by the document is never refused as invalid_request.
#
# Each body stays one object that lists all its fields: client generators build a model from an
# object's properties, but one per branch of a oneOf or anyOf at its top, each lacking the fields
# the others have. So which channel a request uses is stated in words, for people and
# generators, and as if/then/else, which validators and request fuzzers read and generators
# leave aside.
_GIVEN = {"type": "string", "minLength": 1}
_NOT_GIVEN = {"type": "null"}
# An address the server does not take is malformed_email, never accepted: internationalized
# addresses are taken, quoted local parts, domain literals and special-use domains are not.
_EMAIL = {**_GIVEN, "format": "idn-email", "maxLength": MAX_EMAIL_LENGTH}


def _given(fields: tuple[str, ...]) -> dict[str, Any]:
    """Each of ``fields`` present and a non-empty string."""
    return {
        "required": list(fields),
        "properties": {field: _EMAIL if field == "email" else _GIVEN for field in fields},
    }


def _not_given(fields: tuple[str, ...]) -> dict[str, Any]:
    """Each of ``fields`` absent or null."""
    return {"properties": dict.fromkeys(fields, _NOT_GIVEN)}


def _any_given(fields: tuple[str, ...]) -> dict[str, Any]:
    """At least one of ``fields`` present and not null."""
    each = [{"required": [field], "properties": {field: {"type": "string"}}} for field in fields]
    return each[0] if len(each) == 1 else {"anyOf": each}


def _one_channel(
    email: tuple[str, ...], phone: tuple[str, ...], *, also: dict[str, Any]
) -> dict[str, Any]:
    """The email fields given and the phone fields not, or the other way round; ``also`` holds
    either way. (Stated once beside the properties, in an ``allOf``, it would be a second
    description of them, which generators try to merge with the first, and fail.)"""
    return {
        "if": _any_given(email),
        "then": {"allOf": [also, _given(email), _not_given(phone)]},
        "else": {"allOf": [also, _given(phone)]},
    }


_EMAIL_FIELDS = ("email", "email_otp_token", "email_otp")
_PHONE_FIELDS = ("phone_number", "phone_number_otp_token", "phone_number_otp")

OTP_SEND_BODY_RULES: dict[str, Any] = {
    "description": "Exactly one of `email` and `phone_number`, not empty: the channel the code "
    "is sent by. `usage` must be `reset_password`, the only usage this server serves. A public "
    "application (spa, mobile) names itself with `client_id` and sends no secret; a "
    "confidential one authenticates with HTTP Basic instead.",
    "required": ["usage"],
    **_one_channel(
        ("email",),
        ("phone_number",),
        also={"properties": {"usage": {"const": Usage.RESET_PASSWORD.value}}},
    ),
    "examples": [
        {"usage": "reset_password", "email": "alice@example.com"},
        {"client_id": "my-spa", "usage": "reset_password", "phone_number": "+8613800138000"},
    ],
}
"""``usage`` is ``reset_password`` and exactly one of ``email`` and ``phone_number`` is
given."""

RESET_BODY_RULES: dict[str, Any] = {
    "description": "`password`, not empty, and one channel's three fields, none empty: `email`, "
    "`email_otp_token` and `email_otp`, or `phone_number`, `phone_number_otp_token` and "
    "`phone_number_otp`; no field of the other channel. A public application names itself "
    "with `client_id`; a confidential one authenticates with HTTP Basic instead.",
    "required": ["password"],
    **_one_channel(_EMAIL_FIELDS, _PHONE_FIELDS, also={"properties": {"password": _GIVEN}}),
    "examples": [
        {
            "email": "alice@example.com",
            "email_otp_token": EXAMPLE_TOKEN,
            "email_otp": "394817",
            "password": "Lantern-harbour-58",
        }
    ],
}
"""A password and exactly one channel's triple: address, ``otp_token`` and code."""


def _grant(name: str) -> dict[str, Any]:
    return {"properties": {"grant_type": {"const": name}}}


# In a form every value is a string: where the document lets a field be absent, it must never
# suggest a null, which a form can only send as the text "null".
_OPENID_OR_ABSENT = {"properties": {"scope": {"const": "openid"}}}

TOKEN_BODY_RULES: dict[str, Any] = {
    "description": "`grant_type` `password` with `username` (an email address or phone number) "
    "and `password`; `refresh_token` with `refresh_token`; or `client_credentials` (web and "
    "m2m applications), with no scope (absent or empty). Otherwise `scope`, if given, is "
    "`openid`; `auth_source_id` is accepted and not needed. A public application names "
    "itself with `client_id`; a confidential one authenticates with HTTP Basic or "
    "`client_secret`.",
    "required": ["grant_type"],
    "if": _grant("password"),
    "then": {"allOf": [_given(("username", "password")), _OPENID_OR_ABSENT]},
    "else": {
        "if": _grant("refresh_token"),
        "then": {"allOf": [_given(("refresh_token",)), _OPENID_OR_ABSENT]},
        "else": {"allOf": [_grant("client_credentials"), {"properties": {"scope": {"const": ""}}}]},
    },
    "examples": [
        {
            "grant_type": "password",
            "username": "alice@example.com",
            "password": "Lantern-harbour-58",
            "scope": "openid",
        }
    ],
}
"""A grant this server supports, with the fields it needs."""

REVOKE_BODY_RULES: dict[str, Any] = {
    "description": "`token`: a refresh token; `token_type_hint`, if given, `refresh_token` "
    "(or `access_token`, which this server cannot revoke).",
    "required": ["token"],
    "if": {"required": ["token"]},
    "then": {
        "allOf": [
            _given(("token",)),
            {"properties": {"token_type_hint": {"enum": ["refresh_token", "access_token"]}}},
        ]
    },
    "examples": [{"token": EXAMPLE_TOKEN, "token_type_hint": "refresh_token"}],
}
CHANGE_PASSWORD_BODY_RULES: dict[str, Any] = {
    "description": "`old_password` and `new_password`, neither empty.",
    "required": ["old_password", "new_password"],
    "if": {"required": ["old_password"]},
    "then": _given(("old_password", "new_password")),
    "examples": [{"old_password": "Lantern-harbour-58", "new_password": "Copper-meadow-73"}],
}

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
    description="The authentication scheme to use: Basic (client authentication), or Bearer "
    'with `error="invalid_token"` (an access token, RFC 6750 §3).',
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


BEARER = "bearer"
"""The name of the bearer access token security scheme in the document."""

BEARER_AUTHENTICATION: list[SecurityRequirement] = [{BEARER: []}]
"""An access token with the openid scope, from ``/oauth2/token``."""

_BEARER_SCHEME = SecurityScheme(
    type="http",
    scheme="bearer",
    bearer_format="JWT",
    description="An access token with the `openid` scope from `/oauth2/token` (RFC 6750). "
    'Without one: 400 `invalid_request` with `WWW-Authenticate: Bearer error="invalid_request"`;'
    " a bad, expired or revoked one: 401 `invalid_token`.",
)

BASIC = "basic"
"""The name of the HTTP Basic security scheme in the document."""

CLIENT_AUTHENTICATION: list[SecurityRequirement] = [{BASIC: []}, {}]
"""How a client authenticates to an endpoint: HTTP Basic (confidential applications), or no
scheme at all, a public application naming itself with ``client_id`` in the body."""

_BASIC_SCHEME = SecurityScheme(
    type="http",
    scheme="basic",
    description="`client_id` and `client_secret` of a confidential application (web, m2m), each "
    'form-urlencoded before they are joined with ":" and base64-encoded (RFC 6749 §2.3.1). A '
    "public application (spa, mobile) sends no credentials and names itself with `client_id` "
    "in the body.",
)

SWAGGER_UI_VERSION = "5.18.2"
"""The Swagger UI served at ``/schema``: the page loads its script and style sheet of this
version from cdn.jsdelivr.net (the ``swagger-ui-dist`` package)."""


def openapi_config() -> OpenAPIConfig:
    """The document at ``/schema/openapi.json`` and Swagger UI, which renders it, at
    ``/schema``."""
    return OpenAPIConfig(
        title="ciam-reset",
        version="0.1.0",
        description="Reset a user's password with a one-time code sent by email or SMS; sign "
        "in, refresh and revoke tokens, change the password.",
        path="/schema",
        components=Components(security_schemes={BASIC: _BASIC_SCHEME, BEARER: _BEARER_SCHEME}),
        create_examples=False,  # every example in the document is written here, none made up
        render_plugins=[
            SwaggerRenderPlugin(version=SWAGGER_UI_VERSION, path="/", favicon=""),
            JsonRenderPlugin(),
        ],
        openapi_router=Router(
            path="/schema",
            route_handlers=[],
            include_in_schema=False,
            after_request=not_found_in_json,
        ),
    )
