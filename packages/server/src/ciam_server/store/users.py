"""Users and their password history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from ciam_server.domain.models import Channel, User
from ciam_server.store.repository import AlreadyExistsError, Repository
from ciam_server.store.tables import Base, PasswordHistoryRow, UserRow

_USERS = Base.metadata.tables[UserRow.__tablename__]
_HISTORY = Base.metadata.tables[PasswordHistoryRow.__tablename__]


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
