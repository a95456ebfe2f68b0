"""The keys that sign tokens, shared by every instance through the store, and the JWTs they sign.

JOSE is joserfc's: key generation and import, the JWKS and JWS/JWT signing and verification.
Keys are RSA (RS256, what the contract names). The private key of each is stored sealed
(AES-GCM under a key derived from ``CIAM_SECRET_KEY``, the key naming the key id as associated
data), the public key in clear: a copy of the database signs nothing, and every instance with
the same secret key signs with the same keys.

Generations count up; the newest signs. A replaced key stays published (and accepted) for
``publish_for`` after its successor appeared: the longest lifetime of a token it signed, plus
the time other instances may take to notice the new key (:data:`KEY_RELOAD_INTERVAL`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from joserfc.jws import extract_compact

from ciam_server.domain.models import SigningKey
from ciam_server.domain.ports import SigningKeyStore

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
RSA_KEY_BITS = 2048
KEY_RELOAD_INTERVAL = timedelta(seconds=60)
"""How often an instance reads the keys again, to sign with a key another instance made."""
UNKNOWN_KID_RELOAD_INTERVAL = 5.0
"""Least seconds between two reads caused by a token naming an unknown key."""
_NONCE_BYTES = 12


class TokenInvalidError(Exception):
    """A JWT that is malformed, signed by no published key, or of another algorithm."""


class KeySealer:
    """Seals private keys with AES-GCM under a key derived from the server's secret key."""

    def __init__(self, secret_key: bytes) -> None:
        subkey = hmac.new(secret_key, b"ciam-signing-key\x00private-jwk", hashlib.sha256)
        self._aead = AESGCM(subkey.digest())

    def __repr__(self) -> str:
        return "KeySealer(<key hidden>)"

    def seal(self, kid: str, private_jwk: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, private_jwk, kid.encode())

    def open(self, kid: str, sealed: bytes) -> bytes | None:
        """The private JWK, or None when it was sealed under another secret key."""
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], kid.encode())
        except InvalidTag:
            return None


def _new_key() -> RSAKey:
    return RSAKey.generate_key(RSA_KEY_BITS, auto_kid=True)


@dataclass
class KeyRing:
    """The signing key and the published keys, read from ``store`` and kept for
    :data:`KEY_RELOAD_INTERVAL`."""

    store: SigningKeyStore
    sealer: KeySealer
    publish_for: timedelta
    clock: Callable[[], datetime]
    _signing: RSAKey | None = field(default=None, init=False, repr=False)
    _published: KeySet = field(default_factory=lambda: KeySet([]), init=False, repr=False)
    _loaded_at: float = field(default=-1e9, init=False, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def rotate(self) -> SigningKey:
        """Make a new signing key, one generation after the newest; the previous one stays
        published for ``publish_for``."""
        while True:
            keys = await self.store.signing_keys()
            made = await self._make(keys[0].generation + 1 if keys else 1)
            if made is not None:
                return made

    async def _make(self, generation: int) -> SigningKey | None:
        """Store a new key as ``generation``; None when another instance made that generation
        first."""
        key = await asyncio.to_thread(_new_key)
        kid = key.kid or ""
        stored = SigningKey(
            generation=generation,
            kid=kid,
            public_jwk=json.dumps(key.as_dict(private=False)),
            sealed_private_jwk=self.sealer.seal(
                kid, json.dumps(key.as_dict(private=True)).encode()
            ),
            created_at=self.clock(),
        )
        if not await self.store.add_signing_key(stored):
            return None
        self._loaded_at = -1e9  # read again at next use
        return stored

    async def _load(self) -> None:
        keys = await self.store.signing_keys()
        private = None
        if keys:
            opened = self.sealer.open(keys[0].kid, keys[0].sealed_private_jwk)
            private = None if opened is None else RSAKey.import_key(json.loads(opened))
        if private is None:
            # No key yet (a first start), or the newest was sealed under another secret key
            # (a dev server without CIAM_SECRET_KEY, restarted): make one this server can use.
            if keys:
                logger.warning(
                    "the newest signing key cannot be opened with this CIAM_SECRET_KEY; "
                    "making a new one"
                )
            # Instances starting together each try the same generation; one stores it, and
            # all of them then sign with it.
            await self._make(keys[0].generation + 1 if keys else 1)
            keys = await self.store.signing_keys()
            opened = self.sealer.open(keys[0].kid, keys[0].sealed_private_jwk)
            if opened is None:  # another instance with another secret key won the race
                raise RuntimeError("the newest signing key was sealed with another secret key")
            private = RSAKey.import_key(json.loads(opened))
        now = self.clock()
        published = [keys[0]]
        for older, newer in zip(keys[1:], keys, strict=False):
            if now < newer.created_at + self.publish_for:
                published.append(older)
        self._signing = private
        self._published = KeySet([RSAKey.import_key(json.loads(k.public_jwk)) for k in published])
        self._loaded_at = time.monotonic()

    async def _fresh(self, max_age: float) -> None:
        if time.monotonic() - self._loaded_at < max_age:
            return
        async with self._lock:
            if time.monotonic() - self._loaded_at >= max_age:
                await self._load()

    async def jwks(self) -> dict[str, Any]:
        """The published public keys, a JWK Set."""
        await self._fresh(KEY_RELOAD_INTERVAL.total_seconds())
        return dict(self._published.as_dict(private=False))

    async def sign(self, claims: dict[str, Any]) -> str:
        """A JWT of ``claims``, signed RS256 by the current key, its header naming the key."""
        await self._fresh(KEY_RELOAD_INTERVAL.total_seconds())
        key = self._signing
        if key is None:  # pragma: no cover - _fresh always loads one
            raise RuntimeError("no signing key")
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=[ALGORITHM])

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` if a published key signed it (RS256), else
        :class:`TokenInvalidError`. Claims are not validated here."""
        await self._fresh(KEY_RELOAD_INTERVAL.total_seconds())
        try:
            kid = extract_compact(token.encode()).protected.get("kid")
        except (JoseError, ValueError):
            raise TokenInvalidError from None
        if not isinstance(kid, str):
            raise TokenInvalidError
        if not any(key.kid == kid for key in self._published.keys):
            await self._fresh(UNKNOWN_KID_RELOAD_INTERVAL)  # a key made by another instance
        try:
            decoded = jwt.decode(token, self._published, algorithms=[ALGORITHM])
        except (JoseError, ValueError):
            raise TokenInvalidError from None
        if decoded.header.get("typ") != "JWT":
            raise TokenInvalidError
        return dict(decoded.claims)
