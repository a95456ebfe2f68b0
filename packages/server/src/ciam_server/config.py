"""Server configuration from ``CIAM_``-prefixed environment variables (or a ``.env`` file)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ciam_server.delivery.smtp import SmtpSecurity
from ciam_server.domain.models import SignInLimits
from ciam_server.domain.passwords import Argon2Parameters
from ciam_server.domain.send_otp import OtpSettings, UnknownAccountDelivery
from ciam_server.logs import LogFormat
from ciam_server.store.prune import Retention

MIN_SECRET_KEY_LENGTH = 32
PENDING_MIGRATIONS = (
    "The database schema is not at the newest version: run `ciam-server db upgrade` first."
)


class Mode(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class Delivery(StrEnum):
    OUTBOX = "outbox"  # codes written to a file: development only
    LIVE = "live"  # email over SMTP, SMS through the webhook


class ConfigurationError(Exception):
    """The configuration cannot run; the message says what to change."""


PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class Settings(BaseSettings):
    """Every setting, with its default. Each is read from ``CIAM_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CIAM_", env_file=".env", extra="ignore")

    mode: Mode = Mode.DEV
    database_url: str = "sqlite+aiosqlite:///./ciam.db"
    database_pool_size: PositiveInt = 10
    delivery: Delivery = Delivery.OUTBOX
    outbox_path: Path = Path("outbox.jsonl")
    secret_key: SecretStr | None = None

    otp_code_ttl: PositiveInt = 300
    otp_token_ttl: PositiveInt = 600
    otp_max_attempts: PositiveInt = 5
    otp_send_interval: NonNegativeInt = 30
    otp_daily_limit: NonNegativeInt = 50
    otp_identifier_max_failures: NonNegativeInt = 10
    otp_failure_window: PositiveInt = 3600
    unknown_account_delivery: UnknownAccountDelivery = UnknownAccountDelivery.CODE

    ip_rate_limit: NonNegativeInt = 60
    redis_url: str | None = None
    trusted_proxies: str = ""
    cors_allow_origins: str = ""
    idempotency_ttl: PositiveInt = 24 * 3600
    audit_retention_days: Annotated[int, Field(gt=0, le=100 * 365)] = 365
    prune_interval: NonNegativeInt = 3600
    application_cache_ttl: NonNegativeInt = 1
    default_locale: Literal["en", "zh"] = "en"

    smtp_host: str | None = None
    smtp_port: PositiveInt | None = None
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_ca_file: Path | None = None
    sms_webhook_url: str | None = None
    sms_webhook_secret: SecretStr | None = None
    delivery_timeout: Annotated[float, Field(gt=0)] = 10.0

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: LogFormat = "json"
    shutdown_timeout: PositiveInt = 30

    password_history: PositiveInt = 4
    password_min_length: PositiveInt = 8
    password_max_length: PositiveInt = 128

    argon2_time_cost: PositiveInt = 3
    argon2_memory_kib: Annotated[int, Field(ge=8)] = 64 * 1024
    argon2_parallelism: PositiveInt = 4
    argon2_pool_size: PositiveInt | None = None
    argon2_queue_limit: NonNegativeInt = 64

    max_body_size: PositiveInt = 16 * 1024

    issuer: str | None = None
    access_token_ttl: PositiveInt = 300
    refresh_token_ttl: PositiveInt = 30 * 24 * 3600
    sign_in_max_failures: PositiveInt = 5
    sign_in_failure_window: PositiveInt = 900
    sign_in_lock_seconds: PositiveInt = 900
    sign_in_ip_limit: NonNegativeInt = 30

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.otp_code_ttl > self.otp_token_ttl:
            raise ValueError("CIAM_OTP_CODE_TTL must not exceed CIAM_OTP_TOKEN_TTL")
        if self.password_min_length > self.password_max_length:
            raise ValueError("CIAM_PASSWORD_MIN_LENGTH must not exceed CIAM_PASSWORD_MAX_LENGTH")
        return self

    def check_startable(self) -> None:
        """Refuse a configuration that must not serve traffic."""
        if self.mode is Mode.PRODUCTION and self.secret_key is None:
            raise ConfigurationError(
                "CIAM_SECRET_KEY is required in production mode: set it to a random value of "
                f"at least {MIN_SECRET_KEY_LENGTH} characters, the same on every instance."
            )
        if self.secret_key is not None and len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                f"CIAM_SECRET_KEY must have at least {MIN_SECRET_KEY_LENGTH} characters."
            )
        if self.mode is Mode.PRODUCTION and self.delivery is Delivery.OUTBOX:
            raise ConfigurationError(
                "CIAM_DELIVERY=outbox writes codes to a file and is for development only: "
                "set CIAM_DELIVERY=live with the SMTP and SMS webhook settings in production."
            )
        if self.delivery is Delivery.LIVE and not (self.smtp_host or self.sms_webhook_url):
            raise ConfigurationError(
                "CIAM_DELIVERY=live needs CIAM_SMTP_HOST (email), CIAM_SMS_WEBHOOK_URL (SMS) "
                "or both."
            )
        if self.smtp_host and not self.smtp_from:
            raise ConfigurationError("CIAM_SMTP_FROM is required with CIAM_SMTP_HOST.")
        if self.sms_webhook_url and self.sms_webhook_secret is None:
            raise ConfigurationError(
                "CIAM_SMS_WEBHOOK_SECRET is required with CIAM_SMS_WEBHOOK_URL: every request "
                "to the webhook is signed with it."
            )

    @property
    def otp(self) -> OtpSettings:
        return OtpSettings(
            code_ttl=timedelta(seconds=self.otp_code_ttl),
            token_ttl=timedelta(seconds=self.otp_token_ttl),
            max_attempts=self.otp_max_attempts,
            send_interval=timedelta(seconds=self.otp_send_interval),
            daily_limit=self.otp_daily_limit,
            failure_limit=self.otp_identifier_max_failures,
            failure_window=timedelta(seconds=self.otp_failure_window),
            unknown_account_delivery=self.unknown_account_delivery,
        )

    @property
    def retention(self) -> Retention:
        return Retention(
            send_interval=timedelta(seconds=self.otp_send_interval),
            failure_window=timedelta(seconds=self.otp_failure_window),
            sign_in_failure_window=timedelta(seconds=self.sign_in_failure_window),
            audit_events=timedelta(days=self.audit_retention_days),
        )

    def secret_key_bytes(self) -> bytes:
        """``CIAM_SECRET_KEY`` as bytes; it must be set."""
        if self.secret_key is None:
            raise ConfigurationError("CIAM_SECRET_KEY is not set.")
        return self.secret_key.get_secret_value().encode()

    @property
    def sign_in_limits(self) -> SignInLimits:
        return SignInLimits(
            max_failures=self.sign_in_max_failures,
            failure_window=timedelta(seconds=self.sign_in_failure_window),
            lock_duration=timedelta(seconds=self.sign_in_lock_seconds),
        )

    @property
    def argon2(self) -> Argon2Parameters:
        return Argon2Parameters(
            time_cost=self.argon2_time_cost,
            memory_cost_kib=self.argon2_memory_kib,
            parallelism=self.argon2_parallelism,
        )
