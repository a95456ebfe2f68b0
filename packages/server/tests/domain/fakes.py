"""In-memory stand-ins for the domain's ports, faithful to the protocol docstrings in ``ports.py``.

Every store method first yields to the event loop, as a call to a real database would, so that
concurrent flows interleave at the same points as they would against one.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Collection
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import TypeVar

from ciam_server.domain.models import (
    Application,
    AttemptLimits,
    AuditEvent,
    Challenge,
    Channel,
    NewChallenge,
    Refusal,
    RefusalReason,
    SendLimits,
    User,
)
from ciam_server.domain.passwords import Argon2Parameters, PasswordHashing
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    NoAccountNotice,
    PasswordChangedNotice,
)


def _refusal(reason: RefusalReason, wait: timedelta) -> Refusal:
    return Refusal(reason=reason, retry_after=max(1, math.ceil(wait.total_seconds())))


class FakeStore:
    """The ``Store`` protocol over dictionaries; the audit events it stores with its writes
    go to ``audit_log``'s list."""

    def __init__(self, audit_log: RecordingAuditLog) -> None:
        self.audit_log = audit_log
        self.applications: dict[str, Application] = {}
        self.users: dict[int, User] = {}
        self.unlocked: list[str] = []
        """The usernames whose sign-in failures completed resets cleared."""
        self.history: dict[int, list[str]] = {}  # newest first
        self.challenges: dict[int, Challenge] = {}

    # Set-up and inspection, for the tests.

    def add_application(self, application: Application) -> Application:
        self.applications[application.client_id] = application
        return application

    def add_user(
        self,
        *,
        password_hash: str,
        email: str | None = None,
        phone_number: str | None = None,
        frozen: bool = False,
    ) -> User:
        user = User(
            id=len(self.users) + 1,
            email=email,
            phone_number=phone_number,
            password_hash=password_hash,
            frozen=frozen,
            credential_version=1,
        )
        self.users[user.id] = user
        self.history[user.id] = [password_hash]
        return user

    def plant_challenge(self, challenge: NewChallenge) -> Challenge:
        """Store a challenge as it is, retiring nothing (for records no flow of ours makes)."""
        stored = Challenge(
            **{field.name: getattr(challenge, field.name) for field in fields(NewChallenge)},
            id=len(self.challenges) + 1,
            attempts=0,
            consumed_at=None,
            retired_at=None,
        )
        self.challenges[stored.id] = stored
        return stored

    def challenge_with_token_hash(self, token_hash: str) -> Challenge:
        (challenge,) = (c for c in self.challenges.values() if c.token_hash == token_hash)
        return challenge

    # The Store protocol.

    async def get_application(self, client_id: str) -> Application | None:
        await asyncio.sleep(0)
        return self.applications.get(client_id)

    async def add_challenge(
        self, challenge: NewChallenge, limits: SendLimits, audit: AuditEvent | None = None
    ) -> int | Refusal:
        await asyncio.sleep(0)
        refusal = self._refusal(challenge, limits)
        if refusal is not None:
            return refusal
        if audit is not None:
            self.audit_log.events.append(audit)
        for stored in list(self.challenges.values()):
            if (
                stored.usage == challenge.usage
                and stored.channel == challenge.channel
                and stored.identifier == challenge.identifier
                and stored.consumed_at is None
                and stored.retired_at is None
            ):
                self.challenges[stored.id] = replace(stored, retired_at=challenge.created_at)
        return self.plant_challenge(challenge).id

    def _refusal(self, new: NewChallenge, limits: SendLimits) -> Refusal | None:
        now, day = new.created_at, timedelta(days=1)
        same_app = [
            c
            for c in self.challenges.values()
            if c.client_id == new.client_id
            and c.channel == new.channel
            and c.created_at > now - day
        ]
        if limits.app_daily_quota is not None and len(same_app) >= limits.app_daily_quota:
            oldest = min(c.created_at for c in same_app) if same_app else now
            return _refusal(RefusalReason.APP_QUOTA, oldest + day - now)
        same_address = [
            c
            for c in self.challenges.values()
            if c.channel == new.channel and c.identifier == new.identifier
        ]
        if limits.interval and same_address:
            newest = max(c.created_at for c in same_address)
            if now - newest < limits.interval:
                return _refusal(RefusalReason.INTERVAL, newest + limits.interval - now)
        today = [c for c in same_address if c.created_at > now - day]
        if limits.daily_limit and len(today) >= limits.daily_limit:
            return _refusal(RefusalReason.DAILY_LIMIT, min(c.created_at for c in today) + day - now)
        return self._failures(
            new.channel, new.identifier, limits.failure_limit, limits.failure_window, now
        )

    def _failures(
        self, channel: Channel, identifier: str, limit: int, window: timedelta, now: datetime
    ) -> Refusal | None:
        """A refusal while the address's attempts within ``window`` reach ``limit``; the oldest
        challenges leave first, and the one whose leaving brings the sum below decides."""
        failed = sorted(
            (
                c
                for c in self.challenges.values()
                if c.channel == channel
                and c.identifier == identifier
                and c.created_at > now - window
                and c.attempts
            ),
            key=lambda c: (c.created_at, c.id),
        )
        total = sum(c.attempts for c in failed)
        for challenge in failed:
            if not limit or total < limit:
                break
            total -= challenge.attempts
            if total < limit:
                return _refusal(RefusalReason.FAILURES, challenge.created_at + window - now)
        return None

    async def retire_challenge(self, challenge_id: int, now: datetime) -> None:
        await asyncio.sleep(0)
        challenge = self.challenges[challenge_id]
        if challenge.consumed_at is None and challenge.retired_at is None:
            self.challenges[challenge_id] = replace(challenge, retired_at=now)

    async def find_challenge(self, token_hash: str) -> Challenge | None:
        await asyncio.sleep(0)
        return next((c for c in self.challenges.values() if c.token_hash == token_hash), None)

    async def reserve_attempt(
        self,
        challenge: Challenge,
        limits: AttemptLimits,
        now: datetime,
        audit: AuditEvent | None = None,
    ) -> bool | Refusal:
        await asyncio.sleep(0)
        channel, identifier = challenge.channel, challenge.identifier
        refusal = self._failures(
            channel, identifier, limits.failure_limit, limits.failure_window, now
        )
        if refusal is not None:
            return refusal
        stored = self.challenges.get(challenge.id)
        if (
            stored is None
            or stored.attempts >= limits.max_attempts
            or stored.consumed_at is not None
            or stored.retired_at is not None
        ):
            return False
        self.challenges[challenge.id] = replace(stored, attempts=stored.attempts + 1)
        if audit is not None:
            self.audit_log.events.append(audit)
        return True

    async def release_attempt(self, challenge_id: int) -> None:
        await asyncio.sleep(0)
        challenge = self.challenges[challenge_id]
        self.challenges[challenge_id] = replace(challenge, attempts=max(0, challenge.attempts - 1))

    async def find_user(self, channel: Channel, identifier: str) -> User | None:
        await asyncio.sleep(0)
        for user in self.users.values():
            key = user.email if channel is Channel.EMAIL else user.phone_number
            if key == identifier:
                return user
        return None

    async def recent_password_hashes(self, user_id: int, limit: int) -> list[str]:
        await asyncio.sleep(0)
        return list(self.history[user_id][:limit])

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
        await asyncio.sleep(0)
        challenge = self.challenges[challenge_id]
        if challenge.consumed_at is not None or challenge.retired_at is not None:
            return False
        self.challenges[challenge_id] = replace(challenge, consumed_at=now)
        user = self.users[user_id]
        self.users[user_id] = replace(
            user,
            password_hash=new_password_hash,
            credential_version=user.credential_version + 1,
        )
        self.history[user_id] = [new_password_hash, *self.history[user_id]][:history_depth]
        self.unlocked.extend(unlock)
        return True


class RecordingSender:
    """The ``Sender`` protocol: keeps what it is given, or fails when told to."""

    def __init__(self) -> None:
        self.codes: list[CodeMessage] = []
        self.no_account_notices: list[NoAccountNotice] = []
        self.notices: list[PasswordChangedNotice] = []
        self.fail_codes = False
        self.fail_notices = False

    async def send_code(self, message: CodeMessage) -> None:
        await asyncio.sleep(0)
        if self.fail_codes:
            raise DeliveryFailedError("the code could not be handed over")
        self.codes.append(message)

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None:
        await asyncio.sleep(0)
        if self.fail_codes:
            raise DeliveryFailedError("the notice could not be handed over")
        self.no_account_notices.append(notice)

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None:
        await asyncio.sleep(0)
        if self.fail_notices:
            raise DeliveryFailedError("the notice could not be handed over")
        self.notices.append(notice)


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


T = TypeVar("T")


class CountingHashing(PasswordHashing):
    """Password hashing that counts its argon2 calls."""

    def __init__(self, parameters: Argon2Parameters) -> None:
        super().__init__(parameters, pool_size=2)
        self.hash_calls = 0
        self.verify_calls = 0

    @property
    def argon2_calls(self) -> int:
        return self.hash_calls + self.verify_calls

    def _submit(self, function: Callable[..., T], *args: str) -> asyncio.Future[T]:
        """Every argon2 call goes through here, whichever public method made it."""
        if function == self._verify:
            self.verify_calls += 1
        else:
            self.hash_calls += 1
        return super()._submit(function, *args)


class RecordingAuditLog:
    """The ``AuditLog`` protocol over a list: every event stored, whether on its own or with
    a store's write; ``own_writes`` counts the former."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.own_writes = 0

    async def record_audit_event(self, event: AuditEvent) -> None:
        await asyncio.sleep(0)
        self.events.append(event)
        self.own_writes += 1
