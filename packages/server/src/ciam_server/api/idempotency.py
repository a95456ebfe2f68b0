"""``Idempotency-Key``: a retried request is answered as the first one was, and not run again.

Answers are recorded per client and key for ``CIAM_IDEMPOTENCY_TTL`` seconds. The same key with
another body is refused (``idempotency_key_reused``); while the first request is still running,
a repeat is told to retry (``idempotency_key_in_use``). Answers that invite a retry (429, 5xx)
are not recorded, so the retry runs again. A recorded body can hold an ``otp_token``, so it is
stored encrypted (AES-GCM with a key derived from ``CIAM_SECRET_KEY``); the request body, which
holds passwords and codes, is kept only as a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from litestar import Response

from ciam_server.api.empty_response import EmptyResponse
from ciam_server.api.errors import flow_error_response
from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import ClaimOutcome, StoredResponse
from ciam_server.domain.ports import IdempotencyStore
from ciam_shared import ERROR_CONTENT_TYPE, ErrorCode

HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as the IETF draft's examples
_NONCE_BYTES = 12
RETRY_AFTER_IN_PROGRESS = 1  # seconds


def _subkey(secret_key: bytes, purpose: bytes) -> bytes:
    return hmac.new(secret_key, b"ciam-idempotency\x00" + purpose, hashlib.sha256).digest()


class Idempotency:
    """Runs a request at most once per (client, key) within the key's lifetime."""

    def __init__(
        self,
        store: IdempotencyStore,
        secret_key: bytes,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._fingerprint_key = _subkey(secret_key, b"fingerprint")
        self._aead = AESGCM(_subkey(secret_key, b"response"))
        self._ttl = ttl
        self._clock = clock

    def __repr__(self) -> str:
        return f"Idempotency(ttl={self._ttl!r})"

    def _seal(self, body: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, body, None)

    def _open(self, sealed: bytes) -> bytes:
        return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None)

    async def run(
        self,
        *,
        key: str | None,
        client_id: str,
        endpoint: str,
        body: bytes,
        call: Callable[[], Awaitable[Response[bytes]]],
    ) -> Response[bytes]:
        """The answer of ``call()``, or the one recorded for ``key``. A flow's refusal is
        answered here as Litestar's exception handler would answer it
        (:func:`~ciam_server.api.errors.flow_error_response`), so that it can be recorded, and,
        without a key, to spare the exception its way out through the framework's layers."""
        if key is None:
            return await _answer(call)
        if not _KEY.fullmatch(key):
            raise FlowError(
                ErrorCode.INVALID_REQUEST,
                f"{HEADER} must be 1 to 255 visible ASCII characters.",
            )
        now = self._clock()
        claim = await self._store.claim_idempotency_key(
            client_id=client_id,
            key=key,
            endpoint=endpoint,
            fingerprint=hmac.new(
                self._fingerprint_key, endpoint.encode() + b"\x00" + body, hashlib.sha256
            ).hexdigest(),
            now=now,
            expires_at=now + self._ttl,
        )
        if claim.outcome is ClaimOutcome.REPLAY and claim.response is not None:
            return self._replay(claim.response)
        if claim.outcome is ClaimOutcome.MISMATCH:
            raise FlowError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                f"This {HEADER} was used with another request.",
            )
        if claim.outcome is not ClaimOutcome.CLAIMED:
            raise FlowError(
                ErrorCode.IDEMPOTENCY_KEY_IN_USE,
                f"A request with this {HEADER} is still being processed.",
                retry_after=RETRY_AFTER_IN_PROGRESS,
            )
        try:
            response = await _answer(call)
        except BaseException:
            await self._store.release_idempotency_key(client_id=client_id, key=key)
            raise
        status = response.status_code or 200
        if status == 429 or status >= 500:
            await self._store.release_idempotency_key(client_id=client_id, key=key)
        else:
            retry_after = response.headers.get("Retry-After")
            await self._store.complete_idempotency_key(
                client_id=client_id,
                key=key,
                response=StoredResponse(
                    status=status,
                    body=self._seal(response.content),
                    retry_after=None if retry_after is None else int(retry_after),
                ),
            )
        return response

    def _replay(self, stored: StoredResponse) -> Response[bytes]:
        body = self._open(stored.body)
        headers = {"Idempotent-Replayed": "true"}
        if stored.retry_after is not None:
            headers["Retry-After"] = str(stored.retry_after)
        if not body:
            return EmptyResponse(stored.status, headers)
        media_type = "application/json" if stored.status < 400 else ERROR_CONTENT_TYPE
        return Response(
            content=body, status_code=stored.status, media_type=media_type, headers=headers
        )


async def _answer(call: Callable[[], Awaitable[Response[bytes]]]) -> Response[bytes]:
    try:
        return await call()
    except FlowError as refusal:
        return flow_error_response(refusal)
