"""``POST /otp/send`` and ``POST /reset_user_password``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, HeaderParameter

from ciam_server.api.auth import client_credentials
from ciam_server.api.empty_response import EmptyResponse
from ciam_server.api.errors import error_response
from ciam_server.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from ciam_server.api.idempotency import Idempotency
from ciam_server.api.ip_limit import IP_LIMITED
from ciam_server.api.openapi import (
    CLIENT_AUTHENTICATION,
    IDEMPOTENCY_KEY_SCHEMA,
    OTP_SEND_BODY_RULES,
    OTP_SEND_ERRORS,
    OTP_SEND_SUCCESS,
    RESET_BODY_RULES,
    RESET_ERRORS,
    RESET_SUCCESS,
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
from ciam_shared import ErrorCode, OtpSendRequest, ResetUserPasswordRequest

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

    Not a guard: Litestar hands every guard a copy of the route handler, made for each request,
    work every request would pay for."""
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
    """What the two endpoints work with: one object, the endpoints' one dependency
    (``services``), made when the app is built. Several dependencies would be resolved for each
    request side by side, in a task group of their own."""

    applications: CachedApplications
    send_otp: SendOtp
    reset_password: ResetPassword
    idempotency: Idempotency
    locales: Locales


AuthorizationHeader = HeaderParameter(name="Authorization", required=False, include_in_schema=False)
"""Read here, and documented as the HTTP Basic security scheme (see
:data:`~ciam_server.api.openapi.CLIENT_AUTHENTICATION`): OpenAPI has a parameter named
``Authorization`` ignored."""
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
        200: OTP_SEND_SUCCESS,
        **error_responses(OTP_SEND_ERRORS),
    },
    summary="Send a one-time code by email or SMS",
    operation_id="send_otp",
    operation_class=DocumentedOperation,
    security=CLIENT_AUTHENTICATION,
)
async def send_otp(
    *,
    request: Request[Any, Any, Any],
    services: NamedDependency[ApiServices],
    data: Annotated[
        OtpSendRequest,
        Body(media_type=RequestEncodingType.JSON, schema_extra=OTP_SEND_BODY_RULES),
    ],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
    idempotency_key: Annotated[str | None, IdempotencyKeyHeader] = None,
    accept_language: Annotated[str | None, AcceptLanguageHeader] = None,
) -> Response[bytes]:

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
        200: RESET_SUCCESS,
        **error_responses(RESET_ERRORS),
    },
    summary="Reset a user's password with a one-time code",
    operation_id="reset_user_password",
    operation_class=DocumentedOperation,
    security=CLIENT_AUTHENTICATION,
)
async def reset_user_password(
    *,
    request: Request[Any, Any, Any],
    services: NamedDependency[ApiServices],
    data: Annotated[
        ResetUserPasswordRequest,
        Body(media_type=RequestEncodingType.JSON, schema_extra=RESET_BODY_RULES),
    ],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
    idempotency_key: Annotated[str | None, IdempotencyKeyHeader] = None,
    accept_language: Annotated[str | None, AcceptLanguageHeader] = None,
) -> Response[bytes]:
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


def api_router(services: ApiServices) -> Router:
    """The two endpoints, working with ``services`` and marked for the per-address limit
    (:data:`IP_LIMITED`)."""

    def provide_services() -> ApiServices:
        return services

    return Router(
        path="/",
        route_handlers=[send_otp, reset_user_password],
        dependencies={"services": Provide(provide_services, use_cache=True, sync_to_thread=False)},
        opt={IP_LIMITED: True},
    )
