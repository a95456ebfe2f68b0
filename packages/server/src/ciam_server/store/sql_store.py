"""The :class:`~ciam_server.domain.ports.Store`, the
:class:`~ciam_server.domain.ports.IdempotencyStore` and the
:class:`~ciam_server.domain.ports.AuditLog`, on SQLAlchemy: SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from ciam_server.domain.models import (
    Application,
    AppType,
    AuditEvent,
    Challenge,
    Channel,
    IdempotencyClaim,
    NewChallenge,
    Refusal,
    SendLimits,
    StoredResponse,
    User,
)
from ciam_server.store import units
from ciam_server.store.sqlite_process import SqliteProcess

T = TypeVar("T")


class AlreadyExistsError(Exception):
    """An application or user with the same client_id, email or phone number exists."""


class SqlStore:
    """Every public method runs in a transaction of its own.

    On SQLite the transactions run in the store's own process (see
    :mod:`ciam_server.store.sqlite_process`), committed in batches; on PostgreSQL they run
    concurrently on the async engine's pool. Either way a method returns once its transaction
    has committed. Each transaction is a unit of :mod:`ciam_server.store.units`. Call
    :meth:`close` when done with the store.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgresql = engine.dialect.name == "postgresql"
        self._process: SqliteProcess | None = None
        if engine.dialect.name == "sqlite":
            self._process = SqliteProcess(engine.url.render_as_string(hide_password=False))

    async def start(self) -> None:
        """On SQLite, start the store's process and run one transaction in it, so that the
        first request does not wait for the process to start (up to a second when the server's
        process starts its first) and a database it cannot open is found before any request."""
        if self._process is not None:
            await self._process.run(units.begin)

    async def close(self) -> None:
        """Finish the transactions under way and stop the store's process, if it has one."""
        if self._process is not None:
            await self._process.close()

    async def _run(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in a transaction of its own, committed when this returns;
        ``work`` is a unit of :mod:`ciam_server.store.units` with its values bound."""
        if self._process is not None:
            return await self._process.run(work)
        async with self._engine.begin() as connection:
            return await connection.run_sync(work)

    async def _run_in_session(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` with an ORM session, as :meth:`_run` runs a unit."""
        return await self._run(partial(units.in_session, work=work))

    # Applications

    async def get_application(self, client_id: str) -> Application | None:
        return await self._run(partial(units.get_application, client_id=client_id))

    async def create_application(
        self,
        *,
        client_id: str,
        name: str,
        app_type: AppType,
        secret_hash: str | None,
        allow_otp_send: bool,
    ) -> Application:
        work = partial(
            units.create_application,
            client_id=client_id,
            name=name,
            app_type=app_type,
            secret_hash=secret_hash,
            allow_otp_send=allow_otp_send,
        )
        try:
            return await self._run_in_session(work)
        except IntegrityError as error:
            raise AlreadyExistsError(f"application {client_id!r} already exists") from error

    async def list_applications(self) -> list[Application]:
        return await self._run_in_session(units.list_applications)

    async def set_application_secret(self, client_id: str, secret_hash: str) -> bool:
        """Replace the application's secret hash; False when there is no such application."""
        values = {"secret_hash": secret_hash}
        return await self._run(
            partial(units.set_application_values, client_id=client_id, values=values)
        )

    async def set_application_quota(
        self, client_id: str, channel: Channel, daily: int | None
    ) -> bool:
        """Set how many codes the application may send on ``channel`` in any 24 hours (None: no
        quota, 0: none at all); False when there is no such application."""
        if daily is not None and daily < 0:
            raise ValueError("a daily quota cannot be negative")
        column = "email_daily_quota" if channel is Channel.EMAIL else "sms_daily_quota"
        values = {column: daily}
        return await self._run(
            partial(units.set_application_values, client_id=client_id, values=values)
        )

    # Users and password history

    async def create_user(
        self,
        *,
        email: str | None,
        phone_number: str | None,
        password_hash: str,
        now: datetime,
    ) -> User:
        """Add a user with ``password_hash`` as the first entry of its password history."""
        if email is None and phone_number is None:
            raise ValueError("a user needs an email or a phone number")
        work = partial(
            units.create_user,
            email=email,
            phone_number=phone_number,
            password_hash=password_hash,
            now=now,
        )
        try:
            return await self._run_in_session(work)
        except IntegrityError as error:
            raise AlreadyExistsError("a user with this email or phone number exists") from error

    async def find_user(self, channel: Channel, identifier: str) -> User | None:
        return await self._run_in_session(
            partial(units.find_user, channel=channel, identifier=identifier)
        )

    async def set_user_frozen(self, channel: Channel, identifier: str, frozen: bool) -> bool:
        """Freeze or unfreeze a user; False when there is no such user."""
        return await self._run(
            partial(units.set_user_frozen, channel=channel, identifier=identifier, frozen=frozen)
        )

    async def recent_password_hashes(self, user_id: int, limit: int) -> list[str]:
        return await self._run(partial(units.recent_password_hashes, user_id=user_id, limit=limit))

    # Challenges

    async def add_challenge(
        self, challenge: NewChallenge, limits: SendLimits, audit: AuditEvent | None = None
    ) -> int | Refusal:
        """See :meth:`ciam_server.domain.ports.Store.add_challenge`; "now" is the challenge's
        ``created_at``. ``audit`` is checked as :meth:`record_audit_event` checks it, before
        anything is written.

        SQLite runs one write transaction at a time (every transaction begins IMMEDIATE), so
        the checks and the insert cannot interleave with another send. PostgreSQL takes
        transaction-scoped advisory locks on the channel and identifier and, when a quota
        applies, on the application and channel before counting: concurrent sends that could
        decide each other's limits queue, on every server instance alike.
        """
        row = None if audit is None else units.audit_row(audit)
        return await self._run(
            partial(
                units.add_challenge,
                on_postgresql=self._postgresql,
                challenge=challenge,
                limits=limits,
                audit_row=row,
            )
        )

    async def retire_challenge(self, challenge_id: int) -> None:
        """Retire the challenge now, unless it is already consumed or retired."""
        await self._run(
            partial(units.retire_challenge, challenge_id=challenge_id, now=datetime.now(UTC))
        )

    async def find_challenge_and_failures(
        self, token_hash: str, channel: Channel, identifier: str, since: datetime
    ) -> tuple[Challenge | None, tuple[int, datetime | None]]:
        # Attempts are never negative, so leaving out the challenges without any changes
        # nothing in the sum, and the oldest of the rest is the oldest with attempts.
        address: units.Address = {
            "channel": channel.value,
            "identifier": identifier,
            "since": since,
        }
        return await self._run(
            partial(units.find_challenge_and_failures, token_hash=token_hash, address=address)
        )

    async def reserve_attempt(
        self, challenge_id: int, max_attempts: int, audit: AuditEvent | None = None
    ) -> bool:
        row = None if audit is None else units.audit_row(audit)
        return await self._run(
            partial(
                units.reserve_attempt,
                challenge_id=challenge_id,
                max_attempts=max_attempts,
                audit_row=row,
            )
        )

    async def release_attempt(self, challenge_id: int) -> None:
        await self._run(partial(units.release_attempt, challenge_id=challenge_id))

    async def complete_reset(
        self,
        *,
        challenge_id: int,
        user_id: int,
        new_password_hash: str,
        history_depth: int,
        now: datetime,
    ) -> bool:
        if history_depth < 1:
            raise ValueError("history_depth must keep at least the new password")
        work = partial(
            units.complete_reset,
            challenge_id=challenge_id,
            user_id=user_id,
            new_password_hash=new_password_hash,
            history_depth=history_depth,
            now=now,
        )
        return await self._run_in_session(work)

    # Audit events

    async def record_audit_event(self, event: AuditEvent) -> None:
        """Insert the event, in a transaction of its own.

        Raises :class:`ValueError`, on every engine alike, for an ``action``, ``request_id``
        or ``client_ip`` longer than its column (32, 128 and 64 characters) or a value holding
        a NUL character; nothing is written then.
        """
        await self._run(partial(units.record_audit_event, audit_row=units.audit_row(event)))

    async def audit_events(
        self, *, limit: int = 100, identifier: str | None = None
    ) -> list[AuditEvent]:
        """Up to ``limit`` audit events, newest first (by ``at``, then by order of recording),
        only those for ``identifier`` when one is given."""
        if limit < 0:
            raise ValueError("limit cannot be negative")
        return await self._run_in_session(
            partial(units.audit_events, limit=limit, identifier=identifier)
        )

    # Idempotency keys

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
        """See :meth:`ciam_server.domain.ports.IdempotencyStore.claim_idempotency_key`.

        One upsert creates the record, or replaces it when it has expired; when it did
        neither, the record it met is read and compared. On PostgreSQL the upsert waits for a
        concurrent claim of the same key to commit, and then finds its record, so of two
        concurrent claims exactly one is CLAIMED; SQLite runs them one after the other. Up to
        :data:`~ciam_server.store.units.IDEMPOTENCY_PURGE_BATCH` other expired records are
        deleted on the way.
        """
        if expires_at <= now:
            raise ValueError("an idempotency record must expire after it is claimed")
        return await self._run_in_session(
            partial(
                units.claim_idempotency_key,
                on_postgresql=self._postgresql,
                client_id=client_id,
                key=key,
                endpoint=endpoint,
                fingerprint=fingerprint,
                now=now,
                expires_at=expires_at,
            )
        )

    async def complete_idempotency_key(
        self, *, client_id: str, key: str, response: StoredResponse
    ) -> None:
        """Record the answer on the key's record while it is in progress; a record that is
        gone (expired and purged, or released) is left alone."""
        await self._run(
            partial(units.complete_idempotency_key, client_id=client_id, key=key, response=response)
        )

    async def release_idempotency_key(self, *, client_id: str, key: str) -> None:
        """Delete the key's record while it is in progress; a completed one stays."""
        await self._run(partial(units.release_idempotency_key, client_id=client_id, key=key))
