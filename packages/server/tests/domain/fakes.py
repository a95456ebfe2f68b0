"""In-memory stand-ins for the domain's ports, faithful to the protocol docstrings in ``ports.py``.

Every store method first yields to the event loop, as a call to a real database would, so that
concurrent flows interleave at the same points as they would against one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import TypeVar

from ciam_server.domain.models import Application, Challenge, Channel, NewChallenge, User
from ciam_server.domain.passwords import Argon2Parameters, PasswordHashing
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    PasswordChangedNotice,
)


class FakeStore:
    """The ``Store`` protocol over dictionaries."""

    def __init__(self) -> None:
        self.applications: dict[str, Application] = {}
        self.users: dict[int, User] = {}
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

    async def add_challenge(self, challenge: NewChallenge) -> None:
        await asyncio.sleep(0)
        for stored in list(self.challenges.values()):
            if (
                stored.usage == challenge.usage
                and stored.channel == challenge.channel
                and stored.identifier == challenge.identifier
                and stored.consumed_at is None
                and stored.retired_at is None
            ):
                self.challenges[stored.id] = replace(stored, retired_at=challenge.created_at)
        self.plant_challenge(challenge)

    async def find_challenge(self, token_hash: str) -> Challenge | None:
        await asyncio.sleep(0)
        for challenge in self.challenges.values():
            if challenge.token_hash == token_hash:
                return challenge
        return None

    async def reserve_attempt(self, challenge_id: int, max_attempts: int) -> bool:
        await asyncio.sleep(0)
        challenge = self.challenges.get(challenge_id)
        if (
            challenge is None
            or challenge.attempts >= max_attempts
            or challenge.consumed_at is not None
            or challenge.retired_at is not None
        ):
            return False
        self.challenges[challenge_id] = replace(challenge, attempts=challenge.attempts + 1)
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
        return True


class RecordingSender:
    """The ``Sender`` protocol: keeps what it is given, or fails when told to."""

    def __init__(self) -> None:
        self.codes: list[CodeMessage] = []
        self.notices: list[PasswordChangedNotice] = []
        self.fail_codes = False
        self.fail_notices = False

    async def send_code(self, message: CodeMessage) -> None:
        await asyncio.sleep(0)
        if self.fail_codes:
            raise DeliveryFailedError("the code could not be handed over")
        self.codes.append(message)

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

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        """Every argon2 call goes through here, whichever public method made it."""
        if function == self._verify:
            self.verify_calls += 1
        else:
            self.hash_calls += 1
        return await super()._run(function, *args)
