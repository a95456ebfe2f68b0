"""Failed sign-ins per normalized username, and the locks they lead to."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from ciam_server.domain.models import SignInAttempt, SignInLimits
from ciam_server.store.repository import Repository
from ciam_server.store.tables import Base, SignInFailureRow
from ciam_server.store.users import clear_failures

_FAILURES = Base.metadata.tables[SignInFailureRow.__tablename__]


class SignInFailures(Repository):
    async def count_sign_in_attempt(
        self, username: str, limits: SignInLimits, now: datetime
    ) -> SignInAttempt:
        """Count one sign-in attempt for ``username`` as failed, before its password is checked,
        unless the username is locked; a success then clears it
        (:meth:`clear_sign_in_failures`). The attempt that reaches ``max_failures`` locks the
        username at once, until ``now + lock_duration``.

        One upsert, which PostgreSQL serializes per username and SQLite runs alone: concurrent
        attempts on any number of instances can never check more passwords than the limit."""
        lock_until = now + limits.lock_duration
        expired_lock = and_(_FAILURES.c.locked_until.is_not(None), _FAILURES.c.locked_until <= now)
        stale = and_(
            _FAILURES.c.locked_until.is_(None),
            _FAILURES.c.first_failed_at <= now - limits.failure_window,
        )
        restart = or_(expired_lock, stale)
        failures = case((restart, literal(1)), else_=_FAILURES.c.failures + 1)
        upsert = (
            self._failure_insert(
                {
                    "username": username,
                    "failures": 1,
                    "first_failed_at": now,
                    "locked_until": lock_until if limits.max_failures <= 1 else None,
                }
            )
            .on_conflict_do_update(
                index_elements=["username"],
                set_={
                    "failures": failures,
                    "first_failed_at": case(
                        (restart, literal(now, _FAILURES.c.first_failed_at.type)),
                        else_=_FAILURES.c.first_failed_at,
                    ),
                    "locked_until": case(
                        (
                            failures >= limits.max_failures,
                            literal(lock_until, _FAILURES.c.locked_until.type),
                        ),
                        else_=None,
                    ),
                },
                where=or_(_FAILURES.c.locked_until.is_(None), _FAILURES.c.locked_until <= now),
            )
            .returning(_FAILURES.c.locked_until)
        )
        async with self._engine.begin() as connection:
            row = (await connection.execute(upsert)).first()
        if row is None:
            return SignInAttempt.LOCKED
        return SignInAttempt.COUNTED if row.locked_until is None else SignInAttempt.LOCKING

    async def sign_in_locked(self, usernames: Collection[str], now: datetime) -> bool:
        """Whether any of ``usernames`` is locked at ``now``."""
        statement = select(_FAILURES.c.username).where(
            _FAILURES.c.username.in_(list(usernames)), _FAILURES.c.locked_until > now
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).first() is not None

    async def clear_sign_in_failures(self, usernames: Collection[str]) -> None:
        """Forget the failures and locks of ``usernames``."""
        async with self._engine.begin() as connection:
            await clear_failures(connection, usernames)

    def _failure_insert(self, values: dict[str, Any]) -> postgresql.Insert | sqlite.Insert:
        """An INSERT of ``values`` in the dialect that can add an ON CONFLICT clause."""
        if self._on_postgresql:
            return postgresql.insert(_FAILURES).values(values)
        return sqlite.insert(_FAILURES).values(values)
