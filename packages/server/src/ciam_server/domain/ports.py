"""What the flows need from the outside world. ``store/`` and ``delivery/`` implement these."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ciam_server.domain.models import (
    Application,
    AttemptLimits,
    AuditEvent,
    Challenge,
    Channel,
    IdempotencyClaim,
    NewChallenge,
    NewRefreshToken,
    RefreshToken,
    Refusal,
    SendLimits,
    SignInAttempt,
    SigningKey,
    SignInLimits,
    StoredResponse,
    User,
)


@runtime_checkable  # so that Litestar can check what it injects
class Store(Protocol):
    """Persistent state of applications, users, password history and challenges.

    Every method is one transaction. Datetimes are timezone-aware UTC.
    """

    async def get_application(self, client_id: str) -> Application | None: ...

    async def add_challenge(
        self, challenge: NewChallenge, limits: SendLimits, audit: AuditEvent | None = None
    ) -> int | Refusal:
        """Check ``limits`` against the challenges already stored and, when none is reached,
        store ``challenge`` and ``audit`` and retire every earlier live challenge (not
        consumed, not retired) for the same usage, channel and identifier; return the new
        challenge's id. A refusal stores nothing.

        Check and insert are one transaction, serialized per identifier and per application, so
        concurrent sends (on any number of server instances) cannot exceed a limit."""

    async def retire_challenge(self, challenge_id: int, now: datetime) -> None:
        """Make a challenge unusable (its code could not be delivered)."""

    async def find_challenge(self, token_hash: str) -> Challenge | None:
        """The challenge whose token hashes to ``token_hash``."""

    async def reserve_attempt(
        self,
        challenge: Challenge,
        limits: AttemptLimits,
        now: datetime,
        audit: AuditEvent | None = None,
    ) -> bool | Refusal:
        """Count one code check against ``challenge``, atomically, only while it has attempts
        left, is neither consumed nor retired, and its address is under its failure limit;
        store ``audit`` with it. True when counted; False (the challenge is used up) or a
        ``FAILURES`` refusal (the address is), with nothing stored, when not. Serialized per
        address, so concurrent checks (on any number of instances) cannot pass a limit."""

    async def release_attempt(self, challenge_id: int) -> None:
        """Give back an attempt reserved for a check that found the right code."""

    async def find_user(self, channel: Channel, identifier: str) -> User | None:
        """The user whose normalized email (``EMAIL``) or phone number (``SMS``) is
        ``identifier``."""

    async def recent_password_hashes(self, user_id: int, limit: int) -> list[str]:
        """The user's ``limit`` most recent password hashes, newest (the current one) first."""

    async def complete_reset(
        self,
        *,
        challenge_id: int,
        user_id: int,
        new_password_hash: str,
        history_depth: int,
        now: datetime,
        unlock: Collection[str] = (),
    ) -> bool:
        """In one transaction: consume the challenge (only if not yet consumed nor retired),
        set the user's password hash, add it to the history (keeping the newest
        ``history_depth`` entries), bump the credential version, clear the sign-in failures
        of the usernames in ``unlock``. False, and nothing changed, when the challenge was
        already consumed or retired."""


@runtime_checkable
class SigningKeyStore(Protocol):
    """Where the token-signing keys are kept, shared by every instance."""

    async def add_signing_key(self, key: SigningKey) -> bool:
        """Store ``key``; False, and nothing stored, when its generation exists already."""

    async def signing_keys(self) -> list[SigningKey]:
        """Every signing key, the newest generation first."""


@runtime_checkable
class SignInStore(Protocol):
    """Users, their refresh tokens and their failed sign-ins. Every method is one
    transaction."""

    async def find_user(self, channel: Channel, identifier: str) -> User | None: ...

    async def get_user(self, user_id: int) -> User | None: ...

    async def recent_password_hashes(self, user_id: int, limit: int) -> list[str]: ...

    async def count_sign_in_attempt(
        self, username: str, limits: SignInLimits, now: datetime
    ) -> SignInAttempt:
        """Count an attempt for ``username`` as failed before its password is checked, unless
        the username is locked (``LOCKED``, nothing counted); the attempt that reaches the
        limit locks it at once (``LOCKING``). Atomic across instances."""

    async def sign_in_locked(self, usernames: Collection[str], now: datetime) -> bool: ...

    async def clear_sign_in_failures(self, usernames: Collection[str]) -> None: ...

    async def change_password(
        self,
        *,
        user_id: int,
        credential_version: int,
        new_password_hash: str,
        history_depth: int,
        unlock: Collection[str],
        now: datetime,
    ) -> bool:
        """Set the password, bump the credential version, add to the history and clear the
        failures of ``unlock``, only while the version is ``credential_version``."""

    async def add_refresh_token(self, token: NewRefreshToken) -> None: ...

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None: ...

    async def rotate_refresh_token(self, old_id: int, new: NewRefreshToken, now: datetime) -> bool:
        """Mark ``old_id`` rotated and store ``new``, only if ``old_id`` was neither rotated
        nor revoked; False when it was."""

    async def revoke_refresh_family(self, family: str, now: datetime) -> None: ...


@runtime_checkable
class AuditLog(Protocol):
    """Where audit events are kept."""

    async def record_audit_event(self, event: AuditEvent) -> None: ...


@runtime_checkable
class IdempotencyStore(Protocol):
    """Answers recorded per (client_id, Idempotency-Key), so a retried request is answered
    the same without being processed again."""

    async def claim_idempotency_key(
        self,
        *,
        client_id: str,
        key: str,
        endpoint: str,
        fingerprint: str,
        now: datetime,
        expires_at: datetime,
    ) -> IdempotencyClaim:
        """Atomically: when no unexpired record exists for (client_id, key), create one in
        progress (expired records are replaced) → CLAIMED. Otherwise compare ``endpoint`` and
        ``fingerprint`` (a keyed hash of the request body): different → MISMATCH; equal and
        completed → REPLAY with the stored response; equal and in progress → IN_PROGRESS."""

    async def complete_idempotency_key(
        self, *, client_id: str, key: str, response: StoredResponse
    ) -> None:
        """Record the answer of a CLAIMED request."""

    async def release_idempotency_key(self, *, client_id: str, key: str) -> None:
        """Forget a CLAIMED request that ended in a retryable answer, so a retry runs again."""


@dataclass(frozen=True, kw_only=True)
class CodeMessage:
    """A one-time code to deliver."""

    channel: Channel
    to: str
    usage: str
    code: str
    locale: str = "en"
    """The language of the message: ``en`` or ``zh``."""

    def __repr__(self) -> str:
        return (
            f"CodeMessage(channel={self.channel!r}, to={self.to!r}, usage={self.usage!r}, "
            f"locale={self.locale!r})"
        )


@dataclass(frozen=True, kw_only=True)
class PasswordChangedNotice:
    """Tells the account holder that their password was changed."""

    channel: Channel
    to: str
    changed_at: datetime
    locale: str = "en"
    """The language of the message: ``en`` or ``zh``."""


@dataclass(frozen=True, kw_only=True)
class NoAccountNotice:
    """Tells the holder of an address that a reset was asked for it, and that no account has
    it (sent only when so configured)."""

    channel: Channel
    to: str
    locale: str = "en"


class Sender(Protocol):
    """Delivers messages to users. Raises :class:`DeliveryFailedError` when it cannot."""

    async def send_code(self, message: CodeMessage) -> None: ...

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None: ...

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None: ...


class DeliveryFailedError(Exception):
    """A message could not be handed over for delivery."""
