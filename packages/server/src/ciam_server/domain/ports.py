"""What the flows need from the outside world. ``store/`` and ``delivery/`` implement these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ciam_server.domain.models import Application, Challenge, Channel, NewChallenge, User


@runtime_checkable  # so that Litestar can check what it injects
class Store(Protocol):
    """Persistent state of applications, users, password history and challenges.

    Every method is one transaction. Datetimes are timezone-aware UTC.
    """

    async def get_application(self, client_id: str) -> Application | None: ...

    async def add_challenge(self, challenge: NewChallenge) -> None:
        """Store ``challenge`` and, in the same transaction, retire every earlier live challenge
        (not consumed, not retired) for the same usage, channel and identifier."""

    async def find_challenge(self, token_hash: str) -> Challenge | None: ...

    async def reserve_attempt(self, challenge_id: int, max_attempts: int) -> bool:
        """Count one code check against the challenge, atomically, only while fewer than
        ``max_attempts`` have been counted and it is neither consumed nor retired. True when
        counted; False means the challenge is used up."""

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
    ) -> bool:
        """In one transaction: consume the challenge (only if not yet consumed nor retired),
        set the user's password hash, add it to the history (keeping the newest
        ``history_depth`` entries), bump the credential version. False, and nothing changed,
        when the challenge was already consumed or retired."""


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


class Sender(Protocol):
    """Delivers messages to users. Raises :class:`DeliveryFailedError` when it cannot."""

    async def send_code(self, message: CodeMessage) -> None: ...

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None: ...


class DeliveryFailedError(Exception):
    """A message could not be handed over for delivery."""
