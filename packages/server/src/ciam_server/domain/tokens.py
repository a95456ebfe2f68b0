"""Access tokens and ID tokens: the claims this server signs, and the checks it makes of an access
token presented to its own endpoints.

An access token for a user carries ``cv``, the user's credential version when it was issued. A
reset or a change bumps the version, so this server refuses every access token issued before it,
though the token has not expired.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import User
from ciam_server.domain.signing import KeyRing, TokenInvalidError
from ciam_shared import ErrorCode

OPENID = "openid"
CREDENTIAL_VERSION_CLAIM = "cv"
LEEWAY = 5  # seconds of clock difference allowed between instances


def _invalid_token(description: str) -> FlowError:
    return FlowError(ErrorCode.INVALID_TOKEN, description)


@dataclass(frozen=True, kw_only=True)
class AccessClaims:
    """What a verified access token says."""

    subject: str
    client_id: str
    scopes: tuple[str, ...]
    credential_version: int | None
    """None in a token issued to an application itself (client_credentials)."""

    def user_id(self) -> int:
        """The id of the token's user, or ``invalid_token`` for an application's token."""
        if self.credential_version is None or not self.subject.isdecimal():
            raise _invalid_token("This call needs a user's access token.")
        return int(self.subject)


@dataclass(frozen=True, kw_only=True)
class Tokens:
    keys: KeyRing
    access_token_ttl: timedelta
    clock: Callable[[], datetime]

    def _times(self, now: datetime) -> dict[str, int]:
        issued = int(now.timestamp())
        return {
            "iat": issued,
            "nbf": issued,
            "exp": issued + int(self.access_token_ttl.total_seconds()),
        }

    async def access_token(
        self,
        *,
        issuer: str,
        subject: str,
        client_id: str,
        scopes: tuple[str, ...],
        credential_version: int | None,
    ) -> str:
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": subject,
            "aud": client_id,
            "client_id": client_id,
            **self._times(self.clock()),
            "scope": list(scopes),
            "jti": secrets.token_urlsafe(16),
        }
        if credential_version is not None:
            claims[CREDENTIAL_VERSION_CLAIM] = credential_version
        return await self.keys.sign(claims)

    async def id_token(self, *, issuer: str, user: User, client_id: str) -> str:
        """An OpenID Connect ID token for ``user``, who has just authenticated."""
        now = self.clock()
        times = self._times(now)
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": str(user.id),
            "aud": client_id,
            "iat": times["iat"],
            "exp": times["exp"],
            "auth_time": times["iat"],
        }
        if user.email is not None:
            claims["email"] = user.email
        if user.phone_number is not None:
            claims["phone_number"] = user.phone_number
        return await self.keys.sign(claims)

    async def verify_access_token(self, token: str, *, issuer: str) -> AccessClaims:
        """The claims of an access token this server issued, not expired, for ``issuer`` and
        with the ``openid`` scope; else ``invalid_token``. Whether its credential version is
        still the user's is the caller's to check."""
        try:
            claims = await self.keys.verify(token)
        except TokenInvalidError:
            raise _invalid_token(
                "The access token is malformed or not signed by this server."
            ) from None
        now = int(self.clock().timestamp())
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int) or not isinstance(not_before, int):
            raise _invalid_token("The access token lacks its times.")
        if now >= expires + LEEWAY:
            raise _invalid_token("The access token has expired.")
        if now + LEEWAY < not_before:
            raise _invalid_token("The access token is not valid yet.")
        if claims.get("iss") != issuer:
            raise _invalid_token("The access token was issued for another issuer.")
        subject, client_id, scopes = claims.get("sub"), claims.get("aud"), claims.get("scope")
        version = claims.get(CREDENTIAL_VERSION_CLAIM)
        if (
            not isinstance(subject, str)
            or not isinstance(client_id, str)
            or not isinstance(scopes, list)
            or not all(isinstance(scope, str) for scope in scopes)
            or not (version is None or isinstance(version, int))
        ):
            raise _invalid_token("The token is not an access token.")
        if OPENID not in scopes:
            raise _invalid_token("The access token lacks the openid scope.")
        return AccessClaims(
            subject=subject,
            client_id=client_id,
            scopes=tuple(scopes),
            credential_version=version,
        )

    def check_current(self, claims: AccessClaims, user: User | None) -> User:
        """``user`` if the token is still valid for them: they exist and their credential
        version is the token's (no reset or change since)."""
        if user is None or user.credential_version != claims.credential_version:
            raise _invalid_token("The access token was revoked: the password has changed.")
        return user
