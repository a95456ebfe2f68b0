"""Text messages handed to an SMS gateway through a signed HTTP webhook.

Each message is one ``POST`` of a JSON object to the configured URL::

    {"to": "+8613800138000", "text": "...", "kind": "code", "locale": "zh"}

``kind`` is ``code``, ``password_changed`` or ``no_account`` (a reset was asked for a number
no account uses). The request carries the header
``X-CIAM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``; the
receiver recomputes it over the exact bytes it received (:func:`verify_signature`) and refuses
old timestamps, so that a captured request cannot be replayed later. Any 2xx reply means the
gateway took the message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretBytes, SecretStr

from ciam_server.delivery.templates import code_sms, no_account_sms, password_changed_sms
from ciam_server.domain.models import Channel
from ciam_server.domain.ports import CodeMessage, DeliveryFailedError, PasswordChangedNotice

if TYPE_CHECKING:
    from ciam_server.domain.ports import NoAccountNotice

SIGNATURE_HEADER = "X-CIAM-Signature"
DEFAULT_TOLERANCE_S = 300
"""How far (seconds) a signature's timestamp may be from the receiver's clock."""


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``X-CIAM-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: bytes,
    header: str,
    body: bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (an ``X-CIAM-Signature`` value) signs ``body`` with ``secret`` at a
    time within ``tolerance_s`` seconds of ``now`` (default: the current time).

    Several ``v1=`` entries are accepted (any one matching is enough), so that a sender can sign
    with an old and a new secret while the secret is being changed. A malformed header is
    simply not valid; this function never raises on its input.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, separator, value = part.strip().partition("=")
        if not separator:
            return False
        if name == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                return False
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).rpartition("v1=")[2].encode()
    # Every candidate is compared, in constant time, whatever the earlier ones gave (as bytes:
    # compare_digest refuses text that is not ASCII).
    matches = [hmac.compare_digest(expected, signature.encode()) for signature in signatures]
    return any(matches)


class SmsWebhookSender:
    """Sends codes and notices as text messages through the webhook at ``url``.

    ``secret`` signs every request (a text secret signs as its UTF-8 bytes). ``code_ttl`` is
    the lifetime of a code, stated in the message. ``timeout`` (seconds) bounds the whole
    request. One HTTP client, kept for the sender's life: call :meth:`aclose` at shutdown.
    ``transport`` and ``clock`` are for tests.
    """

    def __init__(
        self,
        *,
        url: str,
        secret: SecretStr | str | bytes,
        code_ttl: timedelta,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(secret, SecretStr):
            secret = secret.get_secret_value()
        self._secret = SecretBytes(secret.encode() if isinstance(secret, str) else secret)
        if not self._secret.get_secret_value():
            raise ValueError("the SMS webhook secret must not be empty")
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("the SMS webhook URL must be an http or https URL")
        if timeout <= 0:
            raise ValueError("the SMS webhook timeout must be positive")
        self.url = url
        self.code_ttl = code_ttl
        self.timeout = timeout
        self._clock = clock
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": "ciam-server"},
        )

    def __repr__(self) -> str:
        return f"SmsWebhookSender(url={self.url!r}, secret='**********', timeout={self.timeout})"

    async def send_code(self, message: CodeMessage) -> None:
        self._check_channel(message.channel)
        text = code_sms(message.code, self.code_ttl, message.locale)
        await self._post(message.to, text, "code", message.locale)

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None:
        self._check_channel(notice.channel)
        await self._post(notice.to, no_account_sms(notice.locale), "no_account", notice.locale)

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None:
        self._check_channel(notice.channel)
        text = password_changed_sms(notice.changed_at, notice.locale)
        await self._post(notice.to, text, "password_changed", notice.locale)

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await self._client.aclose()

    async def __aenter__(self) -> SmsWebhookSender:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    @staticmethod
    def _check_channel(channel: Channel) -> None:
        if channel is not Channel.SMS:
            raise DeliveryFailedError(f"the SMS webhook sender cannot deliver to channel {channel}")

    async def _post(self, to: str, text: str, kind: str, locale: str) -> None:
        if self._client.is_closed:
            raise DeliveryFailedError("the SMS webhook sender is closed")
        body = json.dumps(
            {"to": to, "text": text, "kind": kind, "locale": locale},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        signature = sign(self._secret.get_secret_value(), body, int(self._clock()))
        try:
            response = await self._client.post(
                self.url,
                content=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    SIGNATURE_HEADER: signature,
                },
            )
        except httpx.TimeoutException as exc:
            raise DeliveryFailedError(f"SMS webhook timed out: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailedError(f"SMS webhook unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            raise DeliveryFailedError(
                f"SMS webhook refused the message: HTTP {response.status_code}"
            )
