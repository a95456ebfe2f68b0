"""The database schema, as SQLAlchemy declarative tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ciam_server.domain.models import CLIENT_IP_MAX_LENGTH


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine.

    PostgreSQL stores ``timestamptz`` and hands back aware values. SQLite has no time zones: its
    ``DATETIME`` stores naive text, ``YYYY-MM-DD HH:MM:SS.ffffff``, which compares and sorts in
    time order; values are stored in UTC and made aware again when read. Naive input is
    refused: it would be stored with an unknown offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the store takes timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Every ``datetime`` column is a :class:`UtcDateTime`; constraints get stable names so
    migrations can refer to them."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


class ApplicationRow(Base):
    __tablename__ = "applications"

    client_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    app_type: Mapped[str]
    secret_hash: Mapped[str | None]
    allow_otp_send: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=_utc_now)
    # Codes the application may send per channel in any 24 hours; NULL: no quota.
    email_daily_quota: Mapped[int | None]
    sms_daily_quota: Mapped[int | None]


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "email IS NOT NULL OR phone_number IS NOT NULL", name="email_or_phone_number"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email: Mapped[str | None] = mapped_column(unique=True)
    phone_number: Mapped[str | None] = mapped_column(unique=True)
    password_hash: Mapped[str]
    frozen: Mapped[bool] = mapped_column(default=False, server_default=false())
    credential_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PasswordHistoryRow(Base):
    __tablename__ = "password_history"
    __table_args__ = (Index(None, "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    password_hash: Mapped[str]
    created_at: Mapped[datetime]


class OtpChallengeRow(Base):
    __tablename__ = "otp_challenges"
    __table_args__ = (
        # Retiring older challenges looks rows up by these.
        Index(None, "usage", "channel", "identifier", "created_at"),
        # The per-identifier send limits, which count across usages and applications.
        Index(None, "channel", "identifier", "created_at"),
        # The per-application send quota.
        Index(None, "client_id", "created_at"),
        # Pruning finds the oldest challenges by this.
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    client_id: Mapped[str]
    usage: Mapped[str]
    channel: Mapped[str]
    identifier: Mapped[str]
    token_hash: Mapped[str] = mapped_column(unique=True)
    code_hash: Mapped[str]
    created_at: Mapped[datetime]
    code_expires_at: Mapped[datetime]
    token_expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    consumed_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class IdempotencyKeyRow(Base):
    """The answer to a request sent with an Idempotency-Key, per client and key.

    ``state`` is ``in_progress`` while the first request is processed, then ``done`` with
    ``status``, ``body`` (encrypted by the caller) and ``retry_after`` filled in.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        PrimaryKeyConstraint("client_id", "key"),
        CheckConstraint("state IN ('in_progress', 'done')", name="state"),
        # Expired records are purged by this.
        Index(None, "expires_at"),
    )

    client_id: Mapped[str]
    key: Mapped[str]
    endpoint: Mapped[str]
    fingerprint: Mapped[str]
    """A keyed hash of the request body, in hex."""
    state: Mapped[str]
    status: Mapped[int | None]
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    retry_after: Mapped[int | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


AUDIT_ACTION_LENGTH = 32
AUDIT_REQUEST_ID_LENGTH = 128
AUDIT_CLIENT_IP_LENGTH = CLIENT_IP_MAX_LENGTH


class AuditEventRow(Base):
    """One audit event; rows are only ever inserted."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # Listing the newest events.
        Index(None, "at"),
        # Listing the newest events for one address.
        Index(None, "identifier", "at"),
    )

    # A 64-bit key where the log may grow large; SQLite only autoincrements a column declared
    # exactly INTEGER PRIMARY KEY, which holds 64 bits there anyway.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(AUDIT_ACTION_LENGTH))
    client_id: Mapped[str | None]
    channel: Mapped[str | None]
    identifier: Mapped[str | None]
    reason: Mapped[str | None]
    request_id: Mapped[str | None] = mapped_column(String(AUDIT_REQUEST_ID_LENGTH))
    client_ip: Mapped[str | None] = mapped_column(String(AUDIT_CLIENT_IP_LENGTH))


class SigningKeyRow(Base):
    """A key that signs tokens. Generations count up; the newest signs, the older ones only
    verify until the tokens they signed have expired. The private key is sealed by the caller
    (AES-GCM with a key derived from ``CIAM_SECRET_KEY``); the public key is kept in clear so
    that it is published even where the private one cannot be opened."""

    __tablename__ = "signing_keys"

    generation: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kid: Mapped[str] = mapped_column(unique=True)
    public_jwk: Mapped[str]
    sealed_private_jwk: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class RefreshTokenRow(Base):
    """A refresh token, kept as a keyed hash. Each rotation adds a row to the token's
    ``family`` and marks the old one ``rotated_at``; presenting a rotated token again revokes
    the family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index(None, "family"),
        # Pruning finds the expired tokens by this.
        Index(None, "expires_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    token_hash: Mapped[str] = mapped_column(unique=True)
    family: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str]
    scope: Mapped[str]
    credential_version: Mapped[int]
    """The user's credential version when the family began; a reset or a change bumps the
    user's, which ends the family."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SignInFailureRow(Base):
    """Failed sign-ins per normalized username (``email:...`` or ``sms:...``), whether or not
    an account has it, and the lock they led to."""

    __tablename__ = "sign_in_failures"

    username: Mapped[str] = mapped_column(primary_key=True)
    failures: Mapped[int]
    first_failed_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
