"""``POST /otp/send`` and ``POST /reset_user_password``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, post
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, HeaderParameter

from ciam_server.api.auth import client_credentials
from ciam_server.api.empty_response import EmptyResponse
from ciam_server.api.errors import error_response
from ciam_server.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from ciam_server.api.idempotency import Idempotency
from ciam_server.api.ip_limit import IP_LIMITED
from ciam_server.api.openapi import (
    IDEMPOTENCY_KEY_SCHEMA,
    OTP_SEND_BODY_RULES,
    OTP_SEND_ERRORS,
    RESET_BODY_RULES,
    RESET_ERRORS,
    DocumentedOperation,
    error_responses,
)
from ciam_server.api.request_id import request_id_of
from ciam_server.delivery.templates import pick_locale
from ciam_server.domain.audit import RequestContext
from ciam_server.domain.clients import CachedApplications, authenticate_client
from ciam_server.domain.models import Application
from ciam_server.domain.reset_password import ResetPassword
from ciam_server.domain.send_otp import SendOtp
from ciam_shared import ErrorCode, OtpSendRequest, OtpSendResponse, ResetUserPasswordRequest

JSON_MEDIA_TYPE = "application/json"


class UnsupportedMediaTypeError(Exception):
    """The request body is not declared as JSON."""


JSON_BODY_ONLY = "json_body_only"
"""The ``opt`` key marking the handlers whose body must be declared JSON (see
:func:`require_json_body`)."""


def require_json_body(request: Request[Any, Any, Any]) -> None:
    """Refuse a body not declared as JSON. The app's ``before_request`` hook
    (:mod:`ciam_server.api.hooks`) calls it for the handlers marked :data:`JSON_BODY_ONLY`,
    before the body is read, so nothing but JSON is ever decoded.

    Not a guard: Litestar hands every guard a copy of the route handler, made for each request
    (about 3 % of an ``/otp/send``'s time on the event loop)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise UnsupportedMediaTypeError


def unsupported_media_type(
    _: Request[Any, Any, Any], __: UnsupportedMediaTypeError
) -> Response[bytes]:
    return error_response(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE, "The request body must be application/json."
    )


@dataclass(frozen=True, kw_only=True)
class ApiServices:
    """What the two endpoints work with, kept in the app's state under :data:`SERVICES`. Not a
    dependency: Litestar resolves a handler's dependencies for every request (one ready-made
    object cost about 1 % of a request's instructions; several, resolved concurrently in a task
    group, about 0.16 ms a request)."""

    applications: CachedApplications
    send_otp: SendOtp
    reset_password: ResetPassword
    idempotency: Idempotency
    locales: Locales


SERVICES = "services"
"""The key of the endpoints' :class:`ApiServices` in the app's state."""


def api_services(request: Request[Any, Any, Any]) -> ApiServices:
    services: ApiServices = request.app.state[SERVICES]
    return services


AuthorizationHeader = HeaderParameter(
    name="Authorization",
    required=False,
    description='Basic base64(urlencode(client_id) ":" urlencode(client_secret)); '
    "public applications may send client_id in the body instead.",
)
IdempotencyKeyHeader = HeaderParameter(
    name=IDEMPOTENCY_HEADER,
    required=False,
    description="Any unique value (a UUID) per logical request: a repeat with the same key and "
    "body gets the first answer and changes nothing.",
    schema_extra=IDEMPOTENCY_KEY_SCHEMA,
)
AcceptLanguageHeader = HeaderParameter(
    name="Accept-Language",
    required=False,
    description="The language of the messages sent to the user: English or Chinese.",
)


@dataclass(frozen=True, kw_only=True)
class Locales:
    """Picks the message language of a request."""

    default: str

    def pick(self, accept_language: str | None) -> str:
        return pick_locale(accept_language, self.default)


def request_context(
    request: Request[Any, Any, Any], locales: Locales, accept_language: str | None
) -> RequestContext:
    return RequestContext(
        locale=locales.pick(accept_language),
        request_id=request_id_of(request.scope),
        client_ip=None if request.client is None else request.client.host,
    )


async def _authenticated_once(
    *,
    request: Request[Any, Any, Any],
    data: OtpSendRequest | ResetUserPasswordRequest,
    services: ApiServices,
    authorization: str | None,
    idempotency_key: str | None,
    endpoint: str,
    call: Callable[[Application], Awaitable[Response[bytes]]],
) -> Response[bytes]:
    """What both endpoints do around their flow: authenticate the client (header or body),
    then run the call once per Idempotency-Key."""
    credentials = client_credentials(authorization, data.client_id, data.client_secret)
    application = await authenticate_client(services.applications, credentials)
    return await services.idempotency.run(
        key=idempotency_key,
        client_id=application.client_id,
        endpoint=endpoint,
        body=await request.body(),
        call=lambda: call(application),
    )


@post(
    "/otp/send",
    status_code=200,
    opt={JSON_BODY_ONLY: True},
    responses={
        200: ResponseSpec(OtpSendResponse, description="The code is on its way."),
        **error_responses(OTP_SEND_ERRORS),
    },
    summary="Send a one-time code by email or SMS",
    operation_id="send_otp",
    operation_class=DocumentedOperation,
)
async def send_otp(
    *,
    request: Request[Any, Any, Any],
    data: Annotated[
        OtpSendRequest,
        Body(media_type=RequestEncodingType.JSON, schema_extra=OTP_SEND_BODY_RULES),
    ],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
    idempotency_key: Annotated[str | None, IdempotencyKeyHeader] = None,
    accept_language: Annotated[str | None, AcceptLanguageHeader] = None,
) -> Response[bytes]:
    services = api_services(request)

    async def send(application: Application) -> Response[bytes]:
        sent = await services.send_otp(
            application, data, request_context(request, services.locales, accept_language)
        )
        return Response(
            content=msgspec.json.encode(sent), status_code=200, media_type=JSON_MEDIA_TYPE
        )

    return await _authenticated_once(
        request=request,
        data=data,
        services=services,
        authorization=authorization,
        idempotency_key=idempotency_key,
        endpoint="otp_send",
        call=send,
    )


@post(
    "/reset_user_password",
    status_code=200,
    opt={JSON_BODY_ONLY: True},
    responses={
        200: ResponseSpec(None, description="The password is reset; the body is empty."),
        **error_responses(RESET_ERRORS),
    },
    summary="Reset a user's password with a one-time code",
    operation_id="reset_user_password",
    operation_class=DocumentedOperation,
)
async def reset_user_password(
    *,
    request: Request[Any, Any, Any],
    data: Annotated[
        ResetUserPasswordRequest,
        Body(media_type=RequestEncodingType.JSON, schema_extra=RESET_BODY_RULES),
    ],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
    idempotency_key: Annotated[str | None, IdempotencyKeyHeader] = None,
    accept_language: Annotated[str | None, AcceptLanguageHeader] = None,
) -> Response[bytes]:
    services = api_services(request)
    # Shedding load: while the argon2 pool has no room for a reset, one is refused before any
    # work, client authentication included. It touched nothing, so it is no audit event; the
    # request metrics count it.
    services.reset_password.ensure_room()

    async def reset(application: Application) -> Response[bytes]:
        await services.reset_password(
            application, data, request_context(request, services.locales, accept_language)
        )
        return EmptyResponse()

    return await _authenticated_once(
        request=request,
        data=data,
        services=services,
        authorization=authorization,
        idempotency_key=idempotency_key,
        endpoint="reset_user_password",
        call=reset,
    )


def api_router() -> Router:
    """The two endpoints, marked for the per-address limit (:data:`IP_LIMITED`)."""
    return Router(path="/", route_handlers=[send_otp, reset_user_password], opt={IP_LIMITED: True})
