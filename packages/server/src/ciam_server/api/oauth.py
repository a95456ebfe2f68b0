"""Signing in and what follows: ``POST /oauth2/token``, ``POST /oauth2/revoke``,
``POST /change_user_password``, ``GET /userinfo``, and what lets others verify the tokens:
``GET /.well-known/openid-configuration`` and the JWKS at ``GET /.well-known/jwks.json``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body

from ciam_server.api.auth import client_credentials
from ciam_server.api.empty_response import EmptyResponse
from ciam_server.api.errors import BearerTokenMissingError
from ciam_server.api.idempotency import Idempotency
from ciam_server.api.ip_limit import IP_LIMITED
from ciam_server.api.openapi import (
    BEARER_AUTHENTICATION,
    CHANGE_PASSWORD_BODY_RULES,
    CHANGE_PASSWORD_ERRORS,
    CHANGE_PASSWORD_SUCCESS,
    CLIENT_AUTHENTICATION,
    DISCOVERY_SUCCESS,
    JWKS_SUCCESS,
    REVOKE_BODY_RULES,
    REVOKE_ERRORS,
    REVOKE_SUCCESS,
    TOKEN_BODY_RULES,
    TOKEN_ERRORS,
    TOKEN_SUCCESS,
    USERINFO_ERRORS,
    USERINFO_SUCCESS,
    DocumentedOperation,
    error_responses,
)
from ciam_server.api.routes import (
    JSON_BODY_ONLY,
    JSON_MEDIA_TYPE,
    AcceptLanguageHeader,
    AuthorizationHeader,
    IdempotencyKeyHeader,
    Locales,
    request_context,
)
from ciam_server.domain.change_password import ChangePassword
from ciam_server.domain.clients import CachedApplications, authenticate_client
from ciam_server.domain.sign_in import TokenEndpoint
from ciam_server.domain.signing import ALGORITHM, KeyRing
from ciam_server.domain.tokens import OPENID, AccessClaims
from ciam_shared import ChangeUserPasswordRequest, GrantType, RevokeRequest, TokenRequest

JWKS_PATH = "/.well-known/jwks.json"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""RFC 6749 §5.1: a response holding tokens is not cached."""


@dataclass(frozen=True, kw_only=True)
class OAuthServices:
    """What the sign-in endpoints work with, their one dependency (``oauth``)."""

    applications: CachedApplications
    token_endpoint: TokenEndpoint
    change_password: ChangePassword
    keys: KeyRing
    idempotency: Idempotency
    locales: Locales
    issuer: str | None
    """``CIAM_ISSUER``; None: the base URL each request came to."""

    def issuer_of(self, request: Request[Any, Any, Any]) -> str:
        return self.issuer or str(request.base_url).rstrip("/")

    async def bearer_claims(
        self, request: Request[Any, Any, Any], authorization: str | None
    ) -> AccessClaims:
        """The verified claims of the request's bearer access token (RFC 6750 §2.1)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BearerTokenMissingError
        return await self.token_endpoint.tokens.verify_access_token(
            token.strip(), issuer=self.issuer_of(request)
        )


def _json(value: object, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(value),
        status_code=200,
        media_type=JSON_MEDIA_TYPE,
        headers=headers,
    )


@post(
    "/oauth2/token",
    status_code=200,
    responses={200: TOKEN_SUCCESS, **error_responses(TOKEN_ERRORS)},
    summary="Get tokens: sign in with a password, refresh, or as the application itself",
    operation_id="token",
    operation_class=DocumentedOperation,
    security=CLIENT_AUTHENTICATION,
)
async def token(
    *,
    request: Request[Any, Any, Any],
    oauth: NamedDependency[OAuthServices],
    data: Annotated[
        TokenRequest,
        Body(media_type=RequestEncodingType.URL_ENCODED, schema_extra=TOKEN_BODY_RULES),
    ],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
) -> Response[bytes]:
    if data.grant_type == GrantType.PASSWORD:
        # Shedding load before any work, as the reset does.
        oauth.token_endpoint.ensure_room()
    credentials = client_credentials(authorization, data.client_id, data.client_secret)
    application = await authenticate_client(oauth.applications, credentials)
    answer = await oauth.token_endpoint(
        application,
        data,
        issuer=oauth.issuer_of(request),
        context=request_context(request, oauth.locales, None),
    )
    return _json(answer, NO_STORE)


@post(
    "/oauth2/revoke",
    status_code=200,
    responses={200: REVOKE_SUCCESS, **error_responses(REVOKE_ERRORS)},
    summary="Revoke a refresh token and every token of its sign-in (RFC 7009)",
    operation_id="revoke",
    operation_class=DocumentedOperation,
    security=CLIENT_AUTHENTICATION,
)
async def revoke(
    *,
    oauth: NamedDependency[OAuthServices],
    data: Annotated[
        RevokeRequest,
        Body(media_type=RequestEncodingType.URL_ENCODED, schema_extra=REVOKE_BODY_RULES),
    ],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
) -> Response[bytes]:
    credentials = client_credentials(authorization, data.client_id, data.client_secret)
    application = await authenticate_client(oauth.applications, credentials)
    await oauth.token_endpoint.revoke(application, data)
    return EmptyResponse()


@post(
    "/change_user_password",
    status_code=200,
    opt={JSON_BODY_ONLY: True},
    responses={200: CHANGE_PASSWORD_SUCCESS, **error_responses(CHANGE_PASSWORD_ERRORS)},
    summary="Change the signed-in user's password",
    operation_id="change_user_password",
    operation_class=DocumentedOperation,
    security=BEARER_AUTHENTICATION,
)
async def change_user_password(
    *,
    request: Request[Any, Any, Any],
    oauth: NamedDependency[OAuthServices],
    data: Annotated[
        ChangeUserPasswordRequest,
        Body(media_type=RequestEncodingType.JSON, schema_extra=CHANGE_PASSWORD_BODY_RULES),
    ],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
    idempotency_key: Annotated[str | None, IdempotencyKeyHeader] = None,
    accept_language: Annotated[str | None, AcceptLanguageHeader] = None,
) -> Response[bytes]:
    oauth.change_password.ensure_room()
    claims = await oauth.bearer_claims(request, authorization)

    async def change() -> Response[bytes]:
        await oauth.change_password(
            claims, data, request_context(request, oauth.locales, accept_language)
        )
        return EmptyResponse()

    # A key is the client's, and a retry is the same request only for the same user.
    return await oauth.idempotency.run(
        key=idempotency_key,
        client_id=claims.client_id,
        endpoint="change_user_password",
        body=claims.subject.encode() + b"\x00" + await request.body(),
        call=change,
    )


@get(
    "/userinfo",
    responses={200: USERINFO_SUCCESS, **error_responses(USERINFO_ERRORS)},
    summary="The signed-in user's claims (OpenID Connect UserInfo)",
    operation_id="userinfo",
    operation_class=DocumentedOperation,
    security=BEARER_AUTHENTICATION,
)
async def userinfo(
    *,
    request: Request[Any, Any, Any],
    oauth: NamedDependency[OAuthServices],
    authorization: Annotated[str | None, AuthorizationHeader] = None,
) -> Response[bytes]:
    claims = await oauth.bearer_claims(request, authorization)
    return _json(await oauth.change_password.userinfo(claims))


@get(
    "/.well-known/openid-configuration",
    responses={200: DISCOVERY_SUCCESS},
    summary="OpenID Provider configuration: the issuer, endpoints and keys",
    operation_id="openid_configuration",
    operation_class=DocumentedOperation,
)
async def openid_configuration(
    *, request: Request[Any, Any, Any], oauth: NamedDependency[OAuthServices]
) -> Response[bytes]:
    issuer = oauth.issuer_of(request)
    return _json(
        {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth2/token",
            "revocation_endpoint": f"{issuer}/oauth2/revoke",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}{JWKS_PATH}",
            "grant_types_supported": [grant.value for grant in GrantType],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "scopes_supported": [OPENID],
            "claims_supported": ["sub", "email", "phone_number"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
        }
    )


@get(
    JWKS_PATH,
    responses={200: JWKS_SUCCESS},
    summary="The public keys that verify the tokens (JWK Set)",
    operation_id="jwks",
    operation_class=DocumentedOperation,
)
async def jwks(*, oauth: NamedDependency[OAuthServices]) -> Response[bytes]:
    return _json(await oauth.keys.jwks())


def oauth_routers(oauth: OAuthServices) -> list[Router]:
    """The calls that take credentials, under the per-address limit (:data:`IP_LIMITED`), and
    the published configuration and keys, which relying parties fetch freely."""

    def provide_oauth() -> OAuthServices:
        return oauth

    dependencies = {"oauth": Provide(provide_oauth, use_cache=True, sync_to_thread=False)}
    return [
        Router(
            path="/",
            route_handlers=[token, revoke, change_user_password, userinfo],
            dependencies=dependencies,
            opt={IP_LIMITED: True},
        ),
        Router(path="/", route_handlers=[openid_configuration, jwks], dependencies=dependencies),
    ]
