"""``POST /otp/send`` and ``POST /reset_user_password``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from litestar.params import HeaderParameter, JSONBody

from ciam_server.api.auth import client_credentials
from ciam_server.api.errors import error_response
from ciam_server.api.openapi import OTP_SEND_ERRORS, RESET_ERRORS, error_responses
from ciam_server.domain.clients import authenticate_client
from ciam_server.domain.ports import Store
from ciam_server.domain.reset_password import ResetPassword
from ciam_server.domain.send_otp import SendOtp
from ciam_shared import ErrorCode, OtpSendRequest, OtpSendResponse, ResetUserPasswordRequest

JSON_MEDIA_TYPE = "application/json"


class UnsupportedMediaTypeError(Exception):
    """The request body is not declared as JSON."""


def require_json_body(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A guard: runs before the body is read, so nothing but JSON is ever decoded."""
    media_type = connection.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise UnsupportedMediaTypeError


def unsupported_media_type(
    _: Request[Any, Any, Any], __: UnsupportedMediaTypeError
) -> Response[bytes]:
    return error_response(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE, "The request body must be application/json."
    )


AuthorizationHeader = HeaderParameter(
    name="Authorization",
    required=False,
    description='Basic base64(urlencode(client_id) ":" urlencode(client_secret)); '
    "public applications may send client_id in the body instead.",
)


@post(
    "/otp/send",
    status_code=200,
    guards=[require_json_body],
    responses=error_responses(OTP_SEND_ERRORS),
    summary="Send a one-time code by email or SMS",
    operation_id="send_otp",
)
async def send_otp(
    data: JSONBody[OtpSendRequest],
    store: NamedDependency[Store],
    send_otp_flow: NamedDependency[SendOtp],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
) -> OtpSendResponse:
    credentials = client_credentials(authorization, data.client_id, data.client_secret)
    application = await authenticate_client(store, credentials)
    return await send_otp_flow(application, data)


@post(
    "/reset_user_password",
    status_code=200,
    guards=[require_json_body],
    responses=error_responses(RESET_ERRORS),
    summary="Reset a user's password with a one-time code",
    response_description="The password is reset; the body is empty.",
    operation_id="reset_user_password",
)
async def reset_user_password(
    data: JSONBody[ResetUserPasswordRequest],
    store: NamedDependency[Store],
    reset_password_flow: NamedDependency[ResetPassword],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
) -> Response[bytes]:
    credentials = client_credentials(authorization, data.client_id, data.client_secret)
    application = await authenticate_client(store, credentials)
    await reset_password_flow(application, data)
    return Response(content=b"", status_code=200)
