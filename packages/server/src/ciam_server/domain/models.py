"""The records the flows work on, as the store hands them over."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class AppType(StrEnum):
    """An application's type: confidential types must authenticate with a secret."""

    WEB = "web"
    M2M = "m2m"
    SPA = "spa"
    MOBILE = "mobile"

    @property
    def is_confidential(self) -> bool:
        return self in (AppType.WEB, AppType.M2M)


class Channel(StrEnum):
    """How a code travels; also the ``channel`` of an outbox line."""

    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True, kw_only=True)
class Application:
    """A registered client application. ``secret_hash`` is None for public types."""

    client_id: str
    name: str
    app_type: AppType
    secret_hash: str | None = field(repr=False)
    allow_otp_send: bool
    email_daily_quota: int | None = None
    """Codes the application may send by email in any 24 hours; None: no quota."""
    sms_daily_quota: int | None = None
    """Codes the application may send by SMS in any 24 hours; None: no quota."""

    def daily_quota(self, channel: Channel) -> int | None:
        return self.email_daily_quota if channel is Channel.EMAIL else self.sms_daily_quota


@dataclass(frozen=True, kw_only=True)
class User:
    """An account; ``password_hash`` is an argon2id PHC string."""

    id: int
    email: str | None
    phone_number: str | None
    password_hash: str = field(repr=False)
    frozen: bool
    credential_version: int


@dataclass(frozen=True, kw_only=True)
class NewChallenge:
    """A challenge to store. Only keyed hashes of the token and of the code are kept."""

    client_id: str
    usage: str
    channel: Channel
    identifier: str
    token_hash: str = field(repr=False)
    code_hash: str = field(repr=False)
    created_at: datetime
    code_expires_at: datetime
    token_expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class Challenge(NewChallenge):
    """A stored challenge. ``attempts`` counts code checks made against it."""

    id: int
    attempts: int
    consumed_at: datetime | None
    retired_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class SendLimits:
    """Limits checked, together with storing the challenge, before a code is sent.

    Windows are rolling. A zero ``interval``, ``daily_limit`` or ``failure_limit`` turns that
    limit off.
    """

    interval: timedelta
    """Least time between two codes to the same address (any application, any usage)."""
    daily_limit: int
    """Codes to the same address in any 24 hours."""
    failure_limit: int
    """Wrong codes for the same address, across all its challenges, in ``failure_window``."""
    failure_window: timedelta
    app_daily_quota: int | None
    """Codes the application may send on this channel in any 24 hours; None: no quota."""


@dataclass(frozen=True, kw_only=True)
class AttemptLimits:
    """Limits checked, together with counting it, before a code is compared.

    A zero ``failure_limit`` turns the per-address limit off.
    """

    max_attempts: int
    """Code checks per challenge."""
    failure_limit: int
    """Code checks for the same address, across all its challenges, in ``failure_window``."""
    failure_window: timedelta


class RefusalReason(StrEnum):
    APP_QUOTA = "app_quota"
    INTERVAL = "interval"
    DAILY_LIMIT = "daily_limit"
    FAILURES = "failures"


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """Why a code may not be sent now, and in how many seconds (at least 1) it may."""

    reason: RefusalReason
    retry_after: int


@dataclass(frozen=True, kw_only=True)
class StoredResponse:
    """The answer recorded for an idempotency key; ``body`` is encrypted by the caller."""

    status: int
    body: bytes = field(repr=False)
    retry_after: int | None = None


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # new: the caller processes the request, then completes or releases
    REPLAY = "replay"  # done before with the same request: answer ``response``
    MISMATCH = "mismatch"  # the key was used with another request
    IN_PROGRESS = "in_progress"  # the first request with this key is still being processed


@dataclass(frozen=True, kw_only=True)
class IdempotencyClaim:
    outcome: ClaimOutcome
    response: StoredResponse | None = None


CLIENT_IP_MAX_LENGTH = 64
"""The longest client address an audit event holds (an IPv6 address with its zone fits)."""


class AuditAction(StrEnum):
    CODE_SENT = "code_sent"
    SEND_REFUSED = "send_refused"
    RESET_SUCCEEDED = "reset_succeeded"
    RESET_REFUSED = "reset_refused"
    SIGN_IN_SUCCEEDED = "sign_in_succeeded"
    SIGN_IN_REFUSED = "sign_in_refused"
    SIGN_IN_LOCKED = "sign_in_locked"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an action name, not a secret
    PASSWORD_CHANGE_REFUSED = "password_change_refused"  # noqa: S105


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """Something that happened to an account or an address, for operators to look back on.

    Never holds a secret: no password, code, token or client secret.
    """

    at: datetime
    action: AuditAction
    client_id: str | None
    channel: Channel | None
    identifier: str | None
    """The normalized address, when the request got far enough to have one."""
    reason: str | None = None
    """The error code of a refusal."""
    request_id: str | None = None
    client_ip: str | None = None


@dataclass(frozen=True, kw_only=True)
class SigningKey:
    """A stored token-signing key: its public JWK in clear, its private JWK sealed."""

    generation: int
    kid: str
    public_jwk: str
    sealed_private_jwk: bytes = field(repr=False)
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class NewRefreshToken:
    """A refresh token to store; only its keyed hash is kept."""

    token_hash: str = field(repr=False)
    family: str
    user_id: int
    client_id: str
    scope: str
    credential_version: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class RefreshToken(NewRefreshToken):
    """A stored refresh token. ``rotated_at``: exchanged for a newer one of its family."""

    id: int
    rotated_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class SignInLimits:
    """When failed sign-ins lock a username, and for how long."""

    max_failures: int
    """Failed sign-ins (wrong password, unknown username) that lock the username."""
    failure_window: timedelta
    """Failures older than this, counted from the first, are forgotten."""
    lock_duration: timedelta


class SignInAttempt(StrEnum):
    """What counting a sign-in attempt found (see ``Store.count_sign_in_attempt``)."""

    COUNTED = "counted"
    LOCKING = "locking"
    """Counted, and it is the last one allowed: the username is locked unless it succeeds."""
    LOCKED = "locked"
    """Not counted: the username is locked."""
