"""The records the flows work on, as the store hands them over."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
