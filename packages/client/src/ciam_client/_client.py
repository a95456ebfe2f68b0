"""The sync and async clients.

Both build their calls and read the answers through :class:`_BaseClient` and :mod:`._calls`, and
decide on retries through :mod:`._retries`; only the sending and the sleeping differ.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self, TypeVar

import httpx

from ciam_client._auth import basic_authorization
from ciam_client._calls import (
    FORM,
    JSON,
    Call,
    form_content,
    json_content,
    read_nothing,
    read_otp_send,
    read_token,
    read_userinfo,
    require_one_channel,
)
from ciam_client._exceptions import APIConnectionError, APIError, APITimeoutError
from ciam_client._retries import Repeat, delay_before_retry
from ciam_client._version import __version__
from ciam_shared import (
    ChangeUserPasswordRequest,
    GrantType,
    OtpSendRequest,
    OtpSendResponse,
    ResetUserPasswordRequest,
    RevokeRequest,
    TokenRequest,
    TokenResponse,
    Usage,
    UserInfo,
)

T = TypeVar("T")

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


def _sleep(seconds: float) -> None:
    """Wait between two attempts of a sync call (a module function, so tests can replace it)."""
    time.sleep(seconds)


async def _async_sleep(seconds: float) -> None:
    """Wait between two attempts of an async call (a module function, so tests can replace it)."""
    await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """What every attempt of one call sends: the same URL, body and headers, key included.

    The body and the headers hold secrets, so they are left out of the ``repr``.
    """

    method: str
    url: str
    content: bytes | None = field(repr=False)
    headers: dict[str, str] = field(repr=False)


class _BaseClient:
    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str | None,
        timeout: float | httpx.Timeout,
        max_retries: int,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self._base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._headers = {"Accept": JSON, "User-Agent": f"ciam-client/{__version__}"}
        if client_secret is None:
            # A public application names itself in the body and has nothing to prove.
            self._body_client_id: str | None = client_id
            self._client_authorization: dict[str, str] = {}
        else:
            self._body_client_id = None
            self._client_authorization = {
                "Authorization": basic_authorization(client_id, client_secret)
            }

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def max_retries(self) -> int:
        return self._max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, client_id={self._client_id!r})"

    def _send_otp_call(
        self, *, email: str | None, phone_number: str | None, usage: Usage | str
    ) -> Call[OtpSendResponse]:
        require_one_channel(email, phone_number)
        body = OtpSendRequest(
            client_id=self._body_client_id,
            usage=str(usage),
            email=email,
            phone_number=phone_number,
        )
        return self._client_call(
            "/otp/send", json_content(body), JSON, read_otp_send, Repeat.WITH_KEY
        )

    def _reset_user_password_call(
        self,
        *,
        password: str,
        otp: str,
        otp_token: str,
        email: str | None,
        phone_number: str | None,
    ) -> Call[None]:
        require_one_channel(email, phone_number)
        if email is not None:
            body = ResetUserPasswordRequest(
                client_id=self._body_client_id,
                password=password,
                email=email,
                email_otp=otp,
                email_otp_token=otp_token,
            )
        else:
            body = ResetUserPasswordRequest(
                client_id=self._body_client_id,
                password=password,
                phone_number=phone_number,
                phone_number_otp=otp,
                phone_number_otp_token=otp_token,
            )
        return self._client_call(
            "/reset_user_password", json_content(body), JSON, read_nothing, Repeat.WITH_KEY
        )

    def _sign_in_call(
        self, *, username: str, password: str, scope: str | None, auth_source_id: str | None
    ) -> Call[TokenResponse]:
        body = TokenRequest(
            grant_type=GrantType.PASSWORD.value,
            client_id=self._body_client_id,
            auth_source_id=auth_source_id,
            username=username,
            password=password,
            scope=scope,
        )
        return self._client_call(
            "/oauth2/token", form_content(body), FORM, read_token, Repeat.IF_NOT_ACTED_ON
        )

    def _refresh_call(self, *, refresh_token: str, scope: str | None) -> Call[TokenResponse]:
        body = TokenRequest(
            grant_type=GrantType.REFRESH_TOKEN.value,
            client_id=self._body_client_id,
            refresh_token=refresh_token,
            scope=scope,
        )
        return self._client_call(
            "/oauth2/token", form_content(body), FORM, read_token, Repeat.IF_NOT_ACTED_ON
        )

    def _revoke_call(self, *, token: str, token_type_hint: str | None) -> Call[None]:
        body = RevokeRequest(
            token=token, token_type_hint=token_type_hint, client_id=self._body_client_id
        )
        return self._client_call(
            "/oauth2/revoke", form_content(body), FORM, read_nothing, Repeat.IDEMPOTENT
        )

    def _change_password_call(
        self, *, access_token: str, old_password: str, new_password: str
    ) -> Call[None]:
        body = ChangeUserPasswordRequest(old_password=old_password, new_password=new_password)
        return Call(
            "POST",
            "/change_user_password",
            read_nothing,
            Repeat.WITH_KEY,
            headers={"Content-Type": JSON} | _bearer(access_token),
            content=json_content(body),
        )

    def _userinfo_call(self, *, access_token: str) -> Call[UserInfo]:
        return Call(
            "GET", "/userinfo", read_userinfo, Repeat.IDEMPOTENT, headers=_bearer(access_token)
        )

    def _client_call(
        self,
        path: str,
        content: bytes,
        content_type: str,
        read: Callable[[httpx.Response], T],
        repeat: Repeat,
    ) -> Call[T]:
        """A ``POST`` made as the application: HTTP Basic for a confidential one, or its
        ``client_id`` in ``content`` (put there by the caller) for a public one."""
        headers = {"Content-Type": content_type} | self._client_authorization
        return Call("POST", path, read, repeat, headers=headers, content=content)

    def _outgoing(self, call: Call[T]) -> _Outgoing:
        """Encode ``call`` once, with a fresh idempotency key if it takes one: all its attempts
        reuse both."""
        headers = self._headers | dict(call.headers)
        if call.repeat is Repeat.WITH_KEY:
            headers[IDEMPOTENCY_KEY_HEADER] = str(uuid.uuid4())
        return _Outgoing(
            method=call.method,
            url=self._base_url + call.path,
            content=call.content,
            headers=headers,
        )

    def _build_request(
        self, http: httpx.Client | httpx.AsyncClient, outgoing: _Outgoing
    ) -> httpx.Request:
        return http.build_request(
            outgoing.method,
            outgoing.url,
            content=outgoing.content,
            headers=outgoing.headers,
            timeout=self._timeout,
        )

    def _delay_before_retry(
        self, error: APIError, repeat: Repeat, retries_done: int
    ) -> float | None:
        """Seconds to wait before sending the call again, or ``None`` to raise ``error``."""
        return delay_before_retry(
            error,
            repeat=repeat,
            retries_done=retries_done,
            max_retries=self._max_retries,
            random_fraction=random.random(),  # noqa: S311 - jitter, not a secret
        )


def _bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures that happen before any byte of the request is sent."""


@contextmanager
def _transport_errors(request: httpx.Request) -> Iterator[None]:
    """Turn httpx's transport failures into the SDK's, naming the call but not its body."""
    url = request.url
    where = f"{request.method} {url.scheme}://{url.netloc.decode('ascii')}{url.path}"
    try:
        yield
    except httpx.TimeoutException as exc:
        raise APITimeoutError(
            f"Request timed out ({type(exc).__name__}): {where}",
            request_sent=not isinstance(exc, _NOT_SENT),
        ) from exc
    except httpx.TransportError as exc:
        raise APIConnectionError(
            f"Connection error ({type(exc).__name__}): {where}",
            request_sent=not isinstance(exc, _NOT_SENT),
        ) from exc


class CiamClient(_BaseClient):
    """Synchronous client of the password-reset and sign-in API.

    Give ``client_secret`` for a confidential application (web or machine-to-machine): it is sent
    as HTTP Basic authentication. Leave it ``None`` for a public one (SPA or mobile): the
    ``client_id`` then goes in the request body. :meth:`change_password` and :meth:`userinfo`
    are made as the user instead, with the user's access token as a ``Bearer`` token.
    ``timeout`` applies to every request, also those sent through a given ``http_client``. A
    given ``http_client`` is used as is and left open by :meth:`close`; otherwise the client
    makes its own and closes it.

    :meth:`send_otp`, :meth:`reset_user_password` and :meth:`change_password` send an
    ``Idempotency-Key`` header, a fresh UUID made once per call and sent unchanged, with the same
    body, by each of its attempts; the server answers a repeated key with its stored answer, so a
    retried :meth:`send_otp` sends no second code and a retried password change changes nothing
    twice. Such a call, and :meth:`revoke` and :meth:`userinfo`, which act the same however often
    they run, is sent again after a transport failure (:class:`APIConnectionError`,
    :class:`APITimeoutError`) or a ``429`` or ``503`` answer (and a keyed call after ``409
    idempotency_key_in_use``). :meth:`sign_in` and :meth:`refresh` would act twice (a second
    session; a refresh token presented again after its rotation, which ends the session): they
    are sent again only after a ``429`` or ``503`` or when no connection could be made, never
    when the request may have reached the server. Retries go up to ``max_retries`` times (``0``
    never retries), after waiting the response's ``Retry-After`` when it is more than 0 and at
    most 60 seconds, otherwise 0.5 s doubled per retry up to 8 s, shortened by a random jitter of
    up to 25 %. Any other error is raised at once; when the retries run out, the last error is
    raised.
    """

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            client_id=client_id,
            client_secret=client_secret,
            timeout=timeout,
            max_retries=max_retries,
        )
        self._owns_http = http_client is None
        self._http = httpx.Client() if http_client is None else http_client

    def send_otp(
        self,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        usage: Usage | str = Usage.RESET_PASSWORD,
    ) -> OtpSendResponse:
        """Send a one-time code to exactly one of ``email`` and ``phone_number``.

        The returned ``otp_token`` goes, with the code the user received, to
        :meth:`reset_user_password`. Raises ``ValueError`` before sending anything unless
        exactly one channel is given, an :class:`APIStatusError` subclass for an error answer
        and :class:`APIConnectionError` when no answer came (for ``429``, ``503`` and transport
        failures, only once the retries are used up).
        """
        return self._request(
            self._send_otp_call(email=email, phone_number=phone_number, usage=usage)
        )

    def reset_user_password(
        self,
        *,
        password: str,
        otp: str,
        otp_token: str,
        email: str | None = None,
        phone_number: str | None = None,
    ) -> None:
        """Set a new ``password`` with the ``otp`` and ``otp_token`` sent to one channel.

        Give the same ``email`` or ``phone_number`` the code was sent to. Raises as
        :meth:`send_otp` does.
        """
        self._request(
            self._reset_user_password_call(
                password=password,
                otp=otp,
                otp_token=otp_token,
                email=email,
                phone_number=phone_number,
            )
        )

    def sign_in(
        self,
        *,
        username: str,
        password: str,
        scope: str | None = "openid",
        auth_source_id: str | None = None,
    ) -> TokenResponse:
        """Sign a user in with their ``username`` (email address or phone number) and password.

        Returns the tokens of a new session: a short-lived ``access_token`` (a JWT to send to
        your APIs and to :meth:`userinfo` and :meth:`change_password`), a ``refresh_token`` for
        :meth:`refresh`, and with the ``openid`` scope an ``id_token``. ``scope=None`` leaves the
        scope out; ``auth_source_id`` names the account source where the server has several.
        A wrong password, an unknown, frozen or locked user all raise
        :class:`InvalidGrantError`. Other errors raise as :meth:`send_otp` says; only a ``429``,
        a ``503`` or a connection never made is retried (see the class).
        """
        return self._request(
            self._sign_in_call(
                username=username, password=password, scope=scope, auth_source_id=auth_source_id
            )
        )

    def refresh(self, *, refresh_token: str, scope: str | None = None) -> TokenResponse:
        """New tokens for the session of ``refresh_token``, which is used up.

        The answer holds a new ``refresh_token``: keep it in place of the old one, which the
        server now refuses (presenting it again ends the session). An unknown, expired, revoked
        or already used token raises :class:`InvalidGrantError`: sign the user in again. Only a
        ``429``, a ``503`` or a connection never made is retried (see the class).
        """
        return self._request(self._refresh_call(refresh_token=refresh_token, scope=scope))

    def revoke(
        self,
        *,
        token: str,
        token_type_hint: str | None = "refresh_token",  # noqa: S107 - a token type, not a token
    ) -> None:
        """End the session of a refresh ``token`` (RFC 7009), as when the user signs out.

        Returns ``None`` also for a token that was already revoked, expired or unknown: the
        session is over either way. ``token_type_hint=None`` sends no hint.
        """
        self._request(self._revoke_call(token=token, token_type_hint=token_type_hint))

    def change_password(self, *, access_token: str, old_password: str, new_password: str) -> None:
        """Change the password of the signed-in user whose ``access_token`` is given.

        Raises :class:`WrongOldPasswordError` when ``old_password`` is not the current one,
        :class:`DuplicatePasswordError`, :class:`RecurrentPasswordError` or
        :class:`InvalidNewPasswordError` for a new password that is refused, and
        :class:`InvalidTokenError` for an access token that is expired or no longer valid.
        """
        self._request(
            self._change_password_call(
                access_token=access_token, old_password=old_password, new_password=new_password
            )
        )

    def userinfo(self, *, access_token: str) -> UserInfo:
        """The user of ``access_token``: their id (``sub``), email address and phone number.

        Raises :class:`InvalidTokenError` for an access token that is expired or no longer valid.
        """
        return self._request(self._userinfo_call(access_token=access_token))

    def close(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, call: Call[T]) -> T:
        outgoing = self._outgoing(call)
        retries_done = 0
        while True:
            request = self._build_request(self._http, outgoing)
            try:
                with _transport_errors(request):
                    response = self._http.send(request)
                return call.read(response)
            except APIError as error:
                delay = self._delay_before_retry(error, call.repeat, retries_done)
                if delay is None:
                    raise
            _sleep(delay)
            retries_done += 1


class AsyncCiamClient(_BaseClient):
    """Asynchronous client of the password-reset and sign-in API; see :class:`CiamClient`.

    It takes the same options and behaves the same way: the same ``Idempotency-Key`` per keyed
    call, reused by every attempt, and the same retries for each method (``Retry-After`` or
    jittered backoff), waiting with ``asyncio.sleep``.
    """

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            client_id=client_id,
            client_secret=client_secret,
            timeout=timeout,
            max_retries=max_retries,
        )
        self._owns_http = http_client is None
        self._http = httpx.AsyncClient() if http_client is None else http_client

    async def send_otp(
        self,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        usage: Usage | str = Usage.RESET_PASSWORD,
    ) -> OtpSendResponse:
        """Send a one-time code; see :meth:`CiamClient.send_otp`."""
        return await self._request(
            self._send_otp_call(email=email, phone_number=phone_number, usage=usage)
        )

    async def reset_user_password(
        self,
        *,
        password: str,
        otp: str,
        otp_token: str,
        email: str | None = None,
        phone_number: str | None = None,
    ) -> None:
        """Set a new password; see :meth:`CiamClient.reset_user_password`."""
        await self._request(
            self._reset_user_password_call(
                password=password,
                otp=otp,
                otp_token=otp_token,
                email=email,
                phone_number=phone_number,
            )
        )

    async def sign_in(
        self,
        *,
        username: str,
        password: str,
        scope: str | None = "openid",
        auth_source_id: str | None = None,
    ) -> TokenResponse:
        """Sign a user in; see :meth:`CiamClient.sign_in`."""
        return await self._request(
            self._sign_in_call(
                username=username, password=password, scope=scope, auth_source_id=auth_source_id
            )
        )

    async def refresh(self, *, refresh_token: str, scope: str | None = None) -> TokenResponse:
        """New tokens for a session; see :meth:`CiamClient.refresh`."""
        return await self._request(self._refresh_call(refresh_token=refresh_token, scope=scope))

    async def revoke(
        self,
        *,
        token: str,
        token_type_hint: str | None = "refresh_token",  # noqa: S107 - a token type, not a token
    ) -> None:
        """End a session; see :meth:`CiamClient.revoke`."""
        await self._request(self._revoke_call(token=token, token_type_hint=token_type_hint))

    async def change_password(
        self, *, access_token: str, old_password: str, new_password: str
    ) -> None:
        """Change the signed-in user's password; see :meth:`CiamClient.change_password`."""
        await self._request(
            self._change_password_call(
                access_token=access_token, old_password=old_password, new_password=new_password
            )
        )

    async def userinfo(self, *, access_token: str) -> UserInfo:
        """The user of an access token; see :meth:`CiamClient.userinfo`."""
        return await self._request(self._userinfo_call(access_token=access_token))

    async def aclose(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _request(self, call: Call[T]) -> T:
        outgoing = self._outgoing(call)
        retries_done = 0
        while True:
            request = self._build_request(self._http, outgoing)
            try:
                with _transport_errors(request):
                    response = await self._http.send(request)
                return call.read(response)
            except APIError as error:
                delay = self._delay_before_retry(error, call.repeat, retries_done)
                if delay is None:
                    raise
            await _async_sleep(delay)
            retries_done += 1
