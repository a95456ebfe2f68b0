"""The transaction that ends a reset: the challenge consumed and the password changed at once."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update

from ciam_server.store.repository import Repository
from ciam_server.store.tables import Base, OtpChallengeRow, UserRow
from ciam_server.store.users import add_to_history, clear_failures

_CHALLENGES = Base.metadata.tables[OtpChallengeRow.__tablename__]
_USERS = Base.metadata.tables[UserRow.__tablename__]


class Resets(Repository):
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
        """In one transaction: consume the challenge (only if not yet consumed nor retired),
        set the user's password hash, add it to the history (keeping the newest
        ``history_depth`` entries), bump the credential version (which ends the user's
        sessions) and clear the sign-in failures and locks of the usernames in ``unlock``.
        False, and nothing changed, when the challenge was already consumed or retired."""
        if history_depth < 1:
            raise ValueError("history_depth must keep at least the new password")
        consume = (
            update(_CHALLENGES)
            .where(
                _CHALLENGES.c.id == challenge_id,
                _CHALLENGES.c.consumed_at.is_(None),
                _CHALLENGES.c.retired_at.is_(None),
            )
            .values(consumed_at=now)
        )
        change_password = (
            update(_USERS)
            .where(_USERS.c.id == user_id)
            .values(
                password_hash=new_password_hash,
                credential_version=_USERS.c.credential_version + 1,
                updated_at=now,
            )
        )
        async with self._engine.begin() as connection:
            # The challenge goes first: whoever consumes it holds the only right to go on.
            if (await connection.execute(consume)).rowcount != 1:
                return False
            if (await connection.execute(change_password)).rowcount != 1:
                raise LookupError(f"no user with id {user_id}")  # rolls the transaction back
            await add_to_history(connection, user_id, new_password_hash, history_depth, now)
            await clear_failures(connection, unlock)
        return True
