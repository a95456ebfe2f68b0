"""The :class:`~ciam_server.domain.ports.Store`, on SQLAlchemy: SQLite or PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Update, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from ciam_server.domain.models import (
    Application,
    AppType,
    Challenge,
    Channel,
    NewChallenge,
    User,
)
from ciam_server.store.tables import (
    ApplicationRow,
    OtpChallengeRow,
    PasswordHistoryRow,
    UserRow,
)


class AlreadyExistsError(Exception):
    """An application or user with the same client_id, email or phone number exists."""


class SqlStore:
    """Every public method runs in a transaction of its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    # Applications

    async def get_application(self, client_id: str) -> Application | None:
        async with self._sessions.begin() as session:
            row = await session.get(ApplicationRow, client_id)
        return None if row is None else _application(row)

    async def create_application(
        self,
        *,
        client_id: str,
        name: str,
        app_type: AppType,
        secret_hash: str | None,
        allow_otp_send: bool,
    ) -> Application:
        row = ApplicationRow(
            client_id=client_id,
            name=name,
            app_type=app_type.value,
            secret_hash=secret_hash,
            allow_otp_send=allow_otp_send,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as error:
            raise AlreadyExistsError(f"application {client_id!r} already exists") from error
        return _application(row)

    async def list_applications(self) -> list[Application]:
        async with self._sessions.begin() as session:
            rows = await session.scalars(select(ApplicationRow).order_by(ApplicationRow.client_id))
            return [_application(row) for row in rows]

    async def set_application_secret(self, client_id: str, secret_hash: str) -> bool:
        """Replace the application's secret hash; False when there is no such application."""
        statement = (
            update(ApplicationRow)
            .where(ApplicationRow.client_id == client_id)
            .values(secret_hash=secret_hash)
        )
        async with self._sessions.begin() as session:
            return await _count(session, statement) == 1

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
        row = UserRow(
            email=email,
            phone_number=phone_number,
            password_hash=password_hash,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()
                session.add(
                    PasswordHistoryRow(user_id=row.id, password_hash=password_hash, created_at=now)
                )
        except IntegrityError as error:
            raise AlreadyExistsError("a user with this email or phone number exists") from error
        return _user(row)

    async def find_user(self, channel: Channel, identifier: str) -> User | None:
        async with self._sessions.begin() as session:
            row = await session.scalar(select(UserRow).where(_user_key(channel) == identifier))
        return None if row is None else _user(row)

    async def set_user_frozen(self, channel: Channel, identifier: str, frozen: bool) -> bool:
        """Freeze or unfreeze a user; False when there is no such user."""
        statement = (
            update(UserRow)
            .where(_user_key(channel) == identifier)
            .values(frozen=frozen, updated_at=datetime.now(UTC))
        )
        async with self._sessions.begin() as session:
            return await _count(session, statement) == 1

    async def recent_password_hashes(self, user_id: int, limit: int) -> list[str]:
        statement = (
            select(PasswordHistoryRow.password_hash)
            .where(PasswordHistoryRow.user_id == user_id)
            .order_by(PasswordHistoryRow.id.desc())
            .limit(limit)
        )
        async with self._sessions.begin() as session:
            return list(await session.scalars(statement))

    # Challenges

    async def add_challenge(self, challenge: NewChallenge) -> None:
        retire = (
            update(OtpChallengeRow)
            .where(
                OtpChallengeRow.usage == challenge.usage,
                OtpChallengeRow.channel == challenge.channel.value,
                OtpChallengeRow.identifier == challenge.identifier,
                *_live(),
            )
            .values(retired_at=challenge.created_at)
        )
        async with self._sessions.begin() as session:
            await session.execute(retire)
            session.add(
                OtpChallengeRow(
                    client_id=challenge.client_id,
                    usage=challenge.usage,
                    channel=challenge.channel.value,
                    identifier=challenge.identifier,
                    token_hash=challenge.token_hash,
                    code_hash=challenge.code_hash,
                    created_at=challenge.created_at,
                    code_expires_at=challenge.code_expires_at,
                    token_expires_at=challenge.token_expires_at,
                )
            )

    async def find_challenge(self, token_hash: str) -> Challenge | None:
        statement = select(OtpChallengeRow).where(OtpChallengeRow.token_hash == token_hash)
        async with self._sessions.begin() as session:
            row = await session.scalar(statement)
        return None if row is None else _challenge(row)

    async def reserve_attempt(self, challenge_id: int, max_attempts: int) -> bool:
        # One conditional UPDATE: concurrent checks cannot both take the last attempt.
        statement = (
            update(OtpChallengeRow)
            .where(
                OtpChallengeRow.id == challenge_id,
                OtpChallengeRow.attempts < max_attempts,
                *_live(),
            )
            .values(attempts=OtpChallengeRow.attempts + 1)
        )
        async with self._sessions.begin() as session:
            return await _count(session, statement) == 1

    async def release_attempt(self, challenge_id: int) -> None:
        statement = (
            update(OtpChallengeRow)
            .where(OtpChallengeRow.id == challenge_id, OtpChallengeRow.attempts > 0)
            .values(attempts=OtpChallengeRow.attempts - 1)
        )
        async with self._sessions.begin() as session:
            await session.execute(statement)

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
        consume = (
            update(OtpChallengeRow)
            .where(OtpChallengeRow.id == challenge_id, *_live())
            .values(consumed_at=now)
        )
        change_password = (
            update(UserRow)
            .where(UserRow.id == user_id)
            .values(
                password_hash=new_password_hash,
                credential_version=UserRow.credential_version + 1,
                updated_at=now,
            )
        )
        kept = (
            select(PasswordHistoryRow.id)
            .where(PasswordHistoryRow.user_id == user_id)
            .order_by(PasswordHistoryRow.id.desc())
            .limit(history_depth)
        )
        prune = delete(PasswordHistoryRow).where(
            PasswordHistoryRow.user_id == user_id, PasswordHistoryRow.id.not_in(kept)
        )
        async with self._sessions.begin() as session:
            # The challenge goes first: whoever consumes it holds the only right to go on.
            if await _count(session, consume) != 1:
                return False  # nothing was written
            if await _count(session, change_password) != 1:
                raise LookupError(f"no user with id {user_id}")  # rolls the transaction back
            session.add(
                PasswordHistoryRow(user_id=user_id, password_hash=new_password_hash, created_at=now)
            )
            await session.flush()
            await session.execute(prune, execution_options={"synchronize_session": False})
        return True


async def _count(session: AsyncSession, statement: Update) -> int:
    """Run an UPDATE and return the number of rows it matched."""
    result = cast("CursorResult[Any]", await session.execute(statement))
    return result.rowcount


def _live() -> tuple[Any, ...]:
    """The condition for a challenge that is neither consumed nor retired."""
    return (OtpChallengeRow.consumed_at.is_(None), OtpChallengeRow.retired_at.is_(None))


def _user_key(channel: Channel) -> InstrumentedAttribute[str | None]:
    return UserRow.email if channel is Channel.EMAIL else UserRow.phone_number


def _application(row: ApplicationRow) -> Application:
    return Application(
        client_id=row.client_id,
        name=row.name,
        app_type=AppType(row.app_type),
        secret_hash=row.secret_hash,
        allow_otp_send=row.allow_otp_send,
    )


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        phone_number=row.phone_number,
        password_hash=row.password_hash,
        frozen=row.frozen,
        credential_version=row.credential_version,
    )


def _challenge(row: OtpChallengeRow) -> Challenge:
    return Challenge(
        id=row.id,
        client_id=row.client_id,
        usage=row.usage,
        channel=Channel(row.channel),
        identifier=row.identifier,
        token_hash=row.token_hash,
        code_hash=row.code_hash,
        created_at=row.created_at,
        code_expires_at=row.code_expires_at,
        token_expires_at=row.token_expires_at,
        attempts=row.attempts,
        consumed_at=row.consumed_at,
        retired_at=row.retired_at,
    )
