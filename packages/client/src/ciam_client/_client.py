"""The sync and async clients.

Both build their calls and read the answers through :class:`_BaseClient` and :mod:`._calls`, and
decide on retries through :mod:`._retries`; only the sending and the sleeping differ.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

import httpx

from ciam_client._auth import basic_authorization
from ciam_client._calls import Call, read_empty, read_otp_send, require_one_channel
from ciam_client._exceptions import APIConnectionError, APIError, APITimeoutError
from ciam_client._retries import delay_before_retry
from ciam_client._version import __version__
from ciam_shared import OtpSendRequest, OtpSendResponse, ResetUserPasswordRequest, Usage

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
    """What every attempt of one call sends: the same URL, body and headers, key included."""

    url: str
    content: bytes
    headers: dict[str, str]


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
        self._headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": f"ciam-client/{__version__}",
        }
        if client_secret is None:
            # A public application names itself in the body and has nothing to prove.
            self._body_client_id: str | None = client_id
        else:
            self._body_client_id = None
            self._headers["Authorization"] = basic_authorization(client_id, client_secret)

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
        return Call("/otp/send", body, read_otp_send)

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
        return Call("/reset_user_password", body, read_empty)

    def _outgoing(self, call: Call[T]) -> _Outgoing:
        """Encode ``call`` once, under a fresh idempotency key that all its attempts reuse."""
        return _Outgoing(
            url=self._base_url + call.path,
            content=call.content(),
            headers=self._headers | {IDEMPOTENCY_KEY_HEADER: str(uuid.uuid4())},
        )

    def _build_request(
        self, http: httpx.Client | httpx.AsyncClient, outgoing: _Outgoing
    ) -> httpx.Request:
        return http.build_request(
            "POST",
            outgoing.url,
            content=outgoing.content,
            headers=outgoing.headers,
            timeout=self._timeout,
        )

    def _delay_before_retry(self, error: APIError, retries_done: int) -> float | None:
        """Seconds to wait before sending the call again, or ``None`` to raise ``error``."""
        return delay_before_retry(
            error,
            retries_done=retries_done,
            max_retries=self._max_retries,
            random_fraction=random.random(),  # noqa: S311 - jitter, not a secret
        )


@contextmanager
def _transport_errors(request: httpx.Request) -> Iterator[None]:
    """Turn httpx's transport failures into the SDK's, naming the call but not its body."""
    url = request.url
    where = f"{request.method} {url.scheme}://{url.netloc.decode('ascii')}{url.path}"
    try:
        yield
    except httpx.TimeoutException as exc:
        raise APITimeoutError(f"Request timed out ({type(exc).__name__}): {where}") from exc
    except httpx.TransportError as exc:
        raise APIConnectionError(f"Connection error ({type(exc).__name__}): {where}") from exc


class CiamClient(_BaseClient):
    """Synchronous client of the password-reset API.

    Give ``client_secret`` for a confidential application (web or machine-to-machine): it is sent
    as HTTP Basic authentication. Leave it ``None`` for a public one (SPA or mobile): the
    ``client_id`` then goes in the request body. ``timeout`` applies to every request, also those
    sent through a given ``http_client``. A given ``http_client`` is used as is and left open by
    :meth:`close`; otherwise the client makes its own and closes it.

    Every method call sends an ``Idempotency-Key`` header, a fresh UUID made once per call and
    sent unchanged, with the same body, by each of its attempts; the server answers a repeated key
    with its stored answer, so a retried :meth:`send_otp` sends no second code and a retried
    :meth:`reset_user_password` changes nothing twice. A call that failed on the transport
    (:class:`APIConnectionError`, :class:`APITimeoutError`) or was answered ``429``, ``503`` or
    ``409 idempotency_key_in_use`` is sent again, up to ``max_retries`` times (``0`` never
    retries), after waiting the response's ``Retry-After`` when it is more than 0 and at most 60
    seconds, otherwise 0.5 s doubled per retry up to 8 s, shortened by a random jitter of up to
    25 %. Any other error is raised at once; when the retries run out, the last error is raised.
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
                delay = self._delay_before_retry(error, retries_done)
                if delay is None:
                    raise
            _sleep(delay)
            retries_done += 1


class AsyncCiamClient(_BaseClient):
    """Asynchronous client of the password-reset API; see :class:`CiamClient`.

    It takes the same options and behaves the same way: one ``Idempotency-Key`` per method call,
    reused by every attempt, and the same retries (connection errors, timeouts, ``429``, ``503``
    and ``409 idempotency_key_in_use``; ``Retry-After`` or jittered backoff), waiting with
    ``asyncio.sleep``.
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
                delay = self._delay_before_retry(error, retries_done)
                if delay is None:
                    raise
            await _async_sleep(delay)
            retries_done += 1
