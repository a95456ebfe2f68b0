"""Signing in as an OAuth 2.0 client library does, against the real server on each engine.

Authlib's httpx client signs in with the password grant and client_secret_basic; the tokens are
verified with joserfc against the keys found through the server's OpenID configuration, not by
this project's code. A reset then ends the session: the old refresh token is refused, and the
new password signs in.
"""

from __future__ import annotations

import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from .conftest import NEW_PASSWORD, App, Server, User


def _client(app: App) -> OAuth2Client:
    return OAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret,
        token_endpoint_auth_method="client_secret_basic",
        scope="openid",
    )


def _verified(token: str, keys: KeySet, *, issuer: str, audience: str) -> jwt.Token:
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(decoded.claims)
    return decoded


def test_a_library_signs_in_verifies_the_tokens_and_a_reset_ends_the_session(
    server: Server, web_app: App, new_user: User
) -> None:
    with _client(web_app) as oauth:
        configuration = oauth.request(
            "GET", f"{server.base_url}/.well-known/openid-configuration", withhold_token=True
        ).json()
        issuer = configuration["issuer"]
        keys = KeySet.import_key_set(
            oauth.request("GET", configuration["jwks_uri"], withhold_token=True).json()
        )

        token = oauth.fetch_token(
            configuration["token_endpoint"],
            username=new_user.email,
            password=new_user.password,
            auth_source_id="default",
        )

        assert token["token_type"] == "Bearer"
        access = _verified(token["access_token"], keys, issuer=issuer, audience=web_app.client_id)
        assert access.header["typ"] == "JWT"
        assert access.claims["scope"] == ["openid"]
        identity = _verified(token["id_token"], keys, issuer=issuer, audience=web_app.client_id)
        assert identity.claims["sub"] == access.claims["sub"]
        assert identity.claims["email"] == new_user.email
        userinfo = oauth.get(configuration["userinfo_endpoint"])
        assert userinfo.json()["sub"] == access.claims["sub"]
        old_refresh_token = token["refresh_token"]

    ciam = server.client(web_app)
    sent = ciam.send_otp(email=new_user.email)
    ciam.reset_user_password(
        email=new_user.email,
        otp_token=sent.otp_token,
        otp=server.last_code(new_user.email),
        password=NEW_PASSWORD,
    )

    with _client(web_app) as oauth:
        with pytest.raises(OAuthError) as refused:
            oauth.refresh_token(configuration["token_endpoint"], refresh_token=old_refresh_token)
        assert refused.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as old_password:
            oauth.fetch_token(
                configuration["token_endpoint"],
                username=new_user.email,
                password=new_user.password,
            )
        assert old_password.value.error == "invalid_grant"
        token = oauth.fetch_token(
            configuration["token_endpoint"], username=new_user.email, password=NEW_PASSWORD
        )
        _verified(token["access_token"], keys, issuer=issuer, audience=web_app.client_id)
