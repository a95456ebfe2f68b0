"""``/oauth2/token`` and ``/oauth2/revoke``: the password, refresh_token and client_credentials
grants (RFC 6749), and revoking a refresh token (RFC 7009).

A password is checked cheapest first, so that a caller who fails a cheaper check never makes the
server run argon2: 0. room in the argon2 pool (:meth:`TokenEndpoint.ensure_room`, before the
client is authenticated), 1. client (done by the caller of this flow), 2. body and scope,
3. the per-address limit, 4. the username's shape, 5. room booked in the pool, 6. the attempt
counted for the normalized username, refused while it is locked, 7. one argon2 check, against
the user's hash or, for a username no account has, against a dummy hash.

Wrong passwords, unknown usernames and locked usernames all answer ``invalid_grant`` alike:
failures are counted per normalized username whether or not an account has it, so that neither
the answer, nor its time, nor a lock tells whether an account exists. Only the holder of the
right password learns that an account is frozen.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ciam_server.domain.audit import Auditor, RequestContext, Trail
from ciam_server.domain.errors import FlowError
from ciam_server.domain.identifiers import normalize
from ciam_server.domain.models import (
    Application,
    AuditAction,
    Channel,
    NewRefreshToken,
    SignInAttempt,
    SignInLimits,
    User,
)
from ciam_server.domain.otp import ChallengeHasher
from ciam_server.domain.passwords import HashingBusyError, PasswordHashing
from ciam_server.domain.policy import normalize_password
from ciam_server.domain.ports import SignInStore
from ciam_server.domain.tokens import OPENID, Tokens
from ciam_shared import ErrorCode, GrantType, RevokeRequest, TokenRequest, TokenResponse

RETRY_AFTER_BUSY = 1  # seconds
REFRESH_TOKEN_BYTES = 32
WRONG_CREDENTIALS = "The username or password is wrong."
LOCKED = "User is locked."


def busy() -> FlowError:
    return FlowError(
        ErrorCode.TEMPORARILY_UNAVAILABLE,
        "The server is busy; try again shortly.",
        retry_after=RETRY_AFTER_BUSY,
    )


def required(value: str | None, field: str) -> str:
    if value is None or value == "":
        raise FlowError(ErrorCode.INVALID_REQUEST, f"{field} is required.")
    return value


def username_key(channel: Channel, identifier: str) -> str:
    """The name failures are counted under: one per normalized username."""
    return f"{channel.value}:{identifier}"


def user_keys(user: User) -> list[str]:
    """The names a user's failures are counted under: one per way to sign in."""
    keys = []
    if user.email is not None:
        keys.append(username_key(Channel.EMAIL, user.email))
    if user.phone_number is not None:
        keys.append(username_key(Channel.SMS, user.phone_number))
    return keys


def parse_scopes(scope: str | None) -> tuple[str, ...]:
    """The scopes asked for: none, or ``openid``; anything else is ``invalid_scope``."""
    scopes = tuple(dict.fromkeys((scope or "").split()))
    if any(value != OPENID for value in scopes):
        raise FlowError(ErrorCode.INVALID_SCOPE, "The only scope this server grants is openid.")
    return scopes


def parse_username(raw: str) -> tuple[Channel, str]:
    """An email address (it has an ``@``) or a phone number, normalized as at reset; a username
    that is neither is ``invalid_grant``, like any other username no account has."""
    channel = Channel.EMAIL if "@" in raw else Channel.SMS
    try:
        return channel, normalize(channel, raw)
    except FlowError:
        raise FlowError(ErrorCode.INVALID_GRANT, WRONG_CREDENTIALS) from None


class AddressLimit(Protocol):
    """A limit on sign-in attempts per client address."""

    async def retry_after(self, address: str) -> int | None:
        """Record an attempt from ``address``; None when admitted, else the seconds to wait."""


@dataclass(frozen=True, kw_only=True)
class TokenEndpoint:
    store: SignInStore
    tokens: Tokens
    hashing: PasswordHashing
    hasher: ChallengeHasher
    limits: SignInLimits
    refresh_token_ttl: timedelta
    address_limit: AddressLimit | None
    clock: Callable[[], datetime]
    auditor: Auditor

    def ensure_room(self) -> None:
        """Step 0: refuse a sign-in (``temporarily_unavailable``) while the argon2 pool has no
        room for its one call."""
        if not self.hashing.has_room(1):
            raise busy()

    async def __call__(
        self,
        application: Application,
        request: TokenRequest,
        *,
        issuer: str,
        context: RequestContext,
    ) -> TokenResponse:
        grant = required(request.grant_type, "grant_type")
        if grant == GrantType.PASSWORD:
            trail = Trail()
            return await self.auditor.audited(
                self._password(application, request, issuer, context, trail),
                succeeded=AuditAction.SIGN_IN_SUCCEEDED,
                refused=AuditAction.SIGN_IN_REFUSED,
                client_id=application.client_id,
                trail=trail,
                context=context,
            )
        if grant == GrantType.REFRESH_TOKEN:
            return await self._refresh(application, request, issuer)
        if grant == GrantType.CLIENT_CREDENTIALS:
            return await self._client_credentials(application, request, issuer)
        raise FlowError(
            ErrorCode.UNSUPPORTED_GRANT_TYPE,
            "grant_type must be password, refresh_token or client_credentials.",
        )

    async def _password(
        self,
        application: Application,
        request: TokenRequest,
        issuer: str,
        context: RequestContext,
        trail: Trail,
    ) -> TokenResponse:
        raw_username = required(request.username, "username")
        password = normalize_password(required(request.password, "password"))
        scopes = parse_scopes(request.scope)
        # auth_source_id names the account-and-password source; this server has one.
        if self.address_limit is not None and context.client_ip is not None:
            wait = await self.address_limit.retry_after(context.client_ip)
            if wait is not None:
                raise FlowError(
                    ErrorCode.TOO_MANY_REQUESTS,
                    "Too many sign-in attempts from this address.",
                    retry_after=wait,
                )
        channel, identifier = parse_username(raw_username)
        trail.channel, trail.identifier = channel, identifier
        key = username_key(channel, identifier)
        try:
            booking = self.hashing.book(1)
        except HashingBusyError:
            raise busy() from None
        try:
            attempt = await self.store.count_sign_in_attempt(key, self.limits, self.clock())
            if attempt is SignInAttempt.LOCKED:
                raise FlowError(ErrorCode.INVALID_GRANT, LOCKED)
            # Awaited whether or not an account has the username: the first attempt of the
            # process makes it, whoever it names.
            dummy_hash = await self.hashing.dummy_hash()
            user = await self.store.find_user(channel, identifier)
            matches = await self.hashing.verify(
                dummy_hash if user is None else user.password_hash, password, booking=booking
            )
        except HashingBusyError:
            raise busy() from None
        finally:
            booking.release()
        if user is None or not matches:
            if attempt is SignInAttempt.LOCKING:
                await self.auditor.record(
                    AuditAction.SIGN_IN_LOCKED,
                    client_id=application.client_id,
                    trail=trail,
                    context=context,
                )
            raise FlowError(ErrorCode.INVALID_GRANT, WRONG_CREDENTIALS)
        await self.store.clear_sign_in_failures([key])
        if user.frozen:
            raise FlowError(ErrorCode.INVALID_GRANT, "User is frozen.")
        if await self.store.sign_in_locked(user_keys(user), self.clock()):
            raise FlowError(ErrorCode.INVALID_GRANT, LOCKED)  # by its other username
        family = secrets.token_urlsafe(16)
        refresh_token = await self._new_refresh_token(application, user, scopes, family)
        return await self._answer(application, user, scopes, issuer, refresh_token)

    async def _new_refresh_token(
        self,
        application: Application,
        user: User,
        scopes: tuple[str, ...],
        family: str,
        *,
        replacing: int | None = None,
    ) -> str:
        token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
        now = self.clock()
        new = NewRefreshToken(
            token_hash=self.hasher.refresh_token_hash(token),
            family=family,
            user_id=user.id,
            client_id=application.client_id,
            scope=" ".join(scopes),
            credential_version=user.credential_version,
            created_at=now,
            expires_at=now + self.refresh_token_ttl,
        )
        if replacing is None:
            await self.store.add_refresh_token(new)
        elif not await self.store.rotate_refresh_token(replacing, new, now):
            # Used concurrently by someone else: as good as presented twice.
            await self.store.revoke_refresh_family(family, now)
            raise FlowError(ErrorCode.INVALID_GRANT, "The refresh token was already used.")
        return token

    async def _answer(
        self,
        application: Application,
        user: User,
        scopes: tuple[str, ...],
        issuer: str,
        refresh_token: str,
    ) -> TokenResponse:
        access_token = await self.tokens.access_token(
            issuer=issuer,
            subject=str(user.id),
            client_id=application.client_id,
            scopes=scopes,
            credential_version=user.credential_version,
        )
        id_token = None
        if OPENID in scopes:
            id_token = await self.tokens.id_token(
                issuer=issuer, user=user, client_id=application.client_id
            )
        return TokenResponse(
            access_token=access_token,
            token_type="Bearer",  # noqa: S106 - the token type, not a secret
            expires_in=int(self.tokens.access_token_ttl.total_seconds()),
            scope=" ".join(scopes) or None,
            refresh_token=refresh_token,
            id_token=id_token,
        )

    async def _refresh(
        self, application: Application, request: TokenRequest, issuer: str
    ) -> TokenResponse:
        presented = required(request.refresh_token, "refresh_token")
        asked = parse_scopes(request.scope)
        now = self.clock()
        found = await self.store.find_refresh_token(self.hasher.refresh_token_hash(presented))
        if found is None or found.client_id != application.client_id:
            raise FlowError(ErrorCode.INVALID_GRANT, "The refresh token is not valid.")
        if found.revoked_at is not None:
            raise FlowError(ErrorCode.INVALID_GRANT, "The refresh token was revoked.")
        if found.rotated_at is not None:
            # Presented again after it was exchanged: someone holds a copy. End the family.
            await self.store.revoke_refresh_family(found.family, now)
            raise FlowError(
                ErrorCode.INVALID_GRANT,
                "The refresh token was already used; every token of its sign-in is revoked.",
            )
        if now >= found.expires_at:
            raise FlowError(ErrorCode.INVALID_GRANT, "The refresh token has expired.")
        user = await self.store.get_user(found.user_id)
        if user is None or user.credential_version != found.credential_version:
            raise FlowError(
                ErrorCode.INVALID_GRANT, "The refresh token was revoked: the password has changed."
            )
        if user.frozen:
            raise FlowError(ErrorCode.INVALID_GRANT, "User is frozen.")
        if await self.store.sign_in_locked(user_keys(user), now):
            raise FlowError(ErrorCode.INVALID_GRANT, LOCKED)
        granted = tuple(found.scope.split())
        if any(scope not in granted for scope in asked):
            raise FlowError(
                ErrorCode.INVALID_SCOPE, "The scope must not exceed the one first granted."
            )
        scopes = asked or granted
        refresh_token = await self._new_refresh_token(
            application, user, granted, found.family, replacing=found.id
        )
        return await self._answer(application, user, scopes, issuer, refresh_token)

    async def _client_credentials(
        self, application: Application, request: TokenRequest, issuer: str
    ) -> TokenResponse:
        if not application.app_type.is_confidential:
            raise FlowError(
                ErrorCode.UNAUTHORIZED_CLIENT,
                "Only a web or m2m application may use the client_credentials grant.",
            )
        if parse_scopes(request.scope):
            raise FlowError(ErrorCode.INVALID_SCOPE, "The openid scope needs a user.")
        access_token = await self.tokens.access_token(
            issuer=issuer,
            subject=application.client_id,
            client_id=application.client_id,
            scopes=(),
            credential_version=None,
        )
        return TokenResponse(
            access_token=access_token,
            token_type="Bearer",  # noqa: S106 - the token type, not a secret
            expires_in=int(self.tokens.access_token_ttl.total_seconds()),
        )

    async def revoke(self, application: Application, request: RevokeRequest) -> None:
        """RFC 7009: revoke a refresh token and its family. A token this server does not know,
        or that another application holds, is answered as revoked and left alone (§2.2); an
        access token (a JWT) cannot be revoked: ``unsupported_token_type``."""
        token = required(request.token, "token")
        if request.token_type_hint not in (None, "refresh_token", "access_token"):
            raise FlowError(
                ErrorCode.UNSUPPORTED_TOKEN_TYPE, "token_type_hint must be refresh_token."
            )
        found = await self.store.find_refresh_token(self.hasher.refresh_token_hash(token))
        if found is None:
            if token.count(".") == 2:
                raise FlowError(
                    ErrorCode.UNSUPPORTED_TOKEN_TYPE,
                    "Access tokens are short-lived and cannot be revoked; revoke the refresh "
                    "token.",
                )
            return
        if found.client_id == application.client_id:
            await self.store.revoke_refresh_family(found.family, self.clock())
