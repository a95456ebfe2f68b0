"""The transaction that ends a reset: the challenge consumed and the password changed at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update

from ciam_server.store.repository import Repository
from ciam_server.store.tables import Base, OtpChallengeRow, PasswordHistoryRow, UserRow

_CHALLENGES = Base.metadata.tables[OtpChallengeRow.__tablename__]
_USERS = Base.metadata.tables[UserRow.__tablename__]
_HISTORY = Base.metadata.tables[PasswordHistoryRow.__tablename__]


class Resets(Repository):
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
        kept = (
            select(_HISTORY.c.id)
            .where(_HISTORY.c.user_id == user_id)
            .order_by(_HISTORY.c.id.desc())
            .limit(history_depth)
        )
        async with self._engine.begin() as connection:
            # The challenge goes first: whoever consumes it holds the only right to go on.
            if (await connection.execute(consume)).rowcount != 1:
                return False
            if (await connection.execute(change_password)).rowcount != 1:
                raise LookupError(f"no user with id {user_id}")  # rolls the transaction back
            await connection.execute(
                insert(_HISTORY).values(
                    user_id=user_id, password_hash=new_password_hash, created_at=now
                )
            )
            await connection.execute(
                delete(_HISTORY).where(
                    _HISTORY.c.user_id == user_id, _HISTORY.c.id.not_in(kept.scalar_subquery())
                )
            )
        return True
