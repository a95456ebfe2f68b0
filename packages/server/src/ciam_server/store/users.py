"""Users and their password history."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ciam_server.domain.models import Channel, User
from ciam_server.store.repository import AlreadyExistsError, Repository
from ciam_server.store.tables import Base, PasswordHistoryRow, SignInFailureRow, UserRow

_USERS = Base.metadata.tables[UserRow.__tablename__]
_HISTORY = Base.metadata.tables[PasswordHistoryRow.__tablename__]
_FAILURES = Base.metadata.tables[SignInFailureRow.__tablename__]


class Users(Repository):
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
        add_user = (
            insert(_USERS)
            .values(
                email=email,
                phone_number=phone_number,
                password_hash=password_hash,
                created_at=now,
                updated_at=now,
            )
            .returning(_USERS)
        )
        try:
            async with self._engine.begin() as connection:
                row = (await connection.execute(add_user)).one()
                await connection.execute(
                    insert(_HISTORY).values(
                        user_id=row.id, password_hash=password_hash, created_at=now
                    )
                )
        except IntegrityError as error:
            raise AlreadyExistsError("a user with this email or phone number exists") from error
        return _user(row)

    async def find_user(self, channel: Channel, identifier: str) -> User | None:
        """The user whose normalized email (``EMAIL``) or phone number (``SMS``) is
        ``identifier``."""
        statement = select(_USERS).where(_user_key(channel) == identifier)
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _user(row)

    async def get_user(self, user_id: int) -> User | None:
        """The user with id ``user_id``."""
        statement = select(_USERS).where(_USERS.c.id == user_id)
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _user(row)

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
        """In one transaction, only while the user's credential version is still
        ``credential_version``: set the password hash, bump the credential version, add the
        hash to the history (keeping the newest ``history_depth`` entries) and clear the
        sign-in failures of the usernames in ``unlock``. False, and nothing changed, when the
        version has moved on (another change or a reset came first)."""
        if history_depth < 1:
            raise ValueError("history_depth must keep at least the new password")
        change = (
            update(_USERS)
            .where(_USERS.c.id == user_id, _USERS.c.credential_version == credential_version)
            .values(
                password_hash=new_password_hash,
                credential_version=_USERS.c.credential_version + 1,
                updated_at=now,
            )
        )
        async with self._engine.begin() as connection:
            if (await connection.execute(change)).rowcount != 1:
                return False
            await add_to_history(connection, user_id, new_password_hash, history_depth, now)
            await clear_failures(connection, unlock)
        return True

    async def set_user_frozen(self, channel: Channel, identifier: str, frozen: bool) -> bool:
        """Freeze or unfreeze a user; False when there is no such user."""
        statement = (
            update(_USERS)
            .where(_user_key(channel) == identifier)
            .values(frozen=frozen, updated_at=datetime.now(UTC))
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def recent_password_hashes(self, user_id: int, limit: int) -> list[str]:
        """The user's ``limit`` most recent password hashes, newest (the current one) first."""
        statement = (
            select(_HISTORY.c.password_hash)
            .where(_HISTORY.c.user_id == user_id)
            .order_by(_HISTORY.c.id.desc())
            .limit(limit)
        )
        async with self._engine.begin() as connection:
            return list((await connection.execute(statement)).scalars())


def _user_key(channel: Channel) -> ColumnElement[Any]:
    return _USERS.c.email if channel is Channel.EMAIL else _USERS.c.phone_number


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        phone_number=row.phone_number,
        password_hash=row.password_hash,
        frozen=row.frozen,
        credential_version=row.credential_version,
    )


async def add_to_history(
    connection: AsyncConnection, user_id: int, password_hash: str, depth: int, now: datetime
) -> None:
    """Add ``password_hash`` to the user's history, keeping its newest ``depth`` entries."""
    kept = (
        select(_HISTORY.c.id)
        .where(_HISTORY.c.user_id == user_id)
        .order_by(_HISTORY.c.id.desc())
        .limit(depth)
    )
    await connection.execute(
        insert(_HISTORY).values(user_id=user_id, password_hash=password_hash, created_at=now)
    )
    await connection.execute(
        delete(_HISTORY).where(
            _HISTORY.c.user_id == user_id, _HISTORY.c.id.not_in(kept.scalar_subquery())
        )
    )


async def clear_failures(connection: AsyncConnection, usernames: Collection[str]) -> None:
    """Forget the sign-in failures and locks of ``usernames``."""
    if usernames:
        await connection.execute(delete(_FAILURES).where(_FAILURES.c.username.in_(list(usernames))))
