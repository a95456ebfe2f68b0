"""One-time codes and the tokens that name them.

Only keyed hashes (HMAC-SHA256 with the server's secret key) of a token and of its code are
stored, so a copy of the database yields neither. The code's hash is bound to the token's hash:
a code is only ever checked together with the token it was issued with.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CODE_DIGITS = 6
TOKEN_BYTES = 32  # 256 random bits


def new_code() -> str:
    """A uniformly random 6-digit code."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_token() -> str:
    """An opaque, URL-safe token of 256 random bits."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class ChallengeHasher:
    """Keyed hashes of tokens and codes."""

    def __init__(self, secret_key: bytes) -> None:
        if not secret_key:
            raise ValueError("the secret key must not be empty")
        self._key = secret_key

    def __repr__(self) -> str:
        return "ChallengeHasher(<key hidden>)"

    def _mac(self, *parts: str) -> str:
        message = "\x00".join(parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def token_hash(self, token: str) -> str:
        return self._mac("otp-token", token)

    def refresh_token_hash(self, token: str) -> str:
        return self._mac("refresh-token", token)

    def code_hash(self, token_hash: str, code: str) -> str:
        return self._mac("otp-code", token_hash, code)

    def code_matches(self, *, token_hash: str, code_hash: str, code: str) -> bool:
        """Whether ``code`` is the one stored as ``code_hash``, in constant time."""
        return hmac.compare_digest(self.code_hash(token_hash, code), code_hash)
