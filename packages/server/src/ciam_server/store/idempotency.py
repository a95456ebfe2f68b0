"""Answers recorded per (client_id, Idempotency-Key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ciam_server.domain.models import ClaimOutcome, IdempotencyClaim, StoredResponse
from ciam_server.store.repository import Repository
from ciam_server.store.tables import Base, IdempotencyKeyRow

_KEYS = Base.metadata.tables[IdempotencyKeyRow.__tablename__]
_IN_PROGRESS = "in_progress"
_DONE = "done"
_CLAIMED = _KEYS.c.state == _IN_PROGRESS
"""The condition for a record whose request is still being processed."""


class IdempotencyKeys(Repository):
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
        """Atomically: when no unexpired record exists for (client_id, key), create one in
        progress (an expired one is replaced) → CLAIMED. Otherwise compare ``endpoint`` and
        ``fingerprint`` (a keyed hash of the request body): different → MISMATCH; equal and
        completed → REPLAY with the stored response; equal and in progress → IN_PROGRESS.

        One upsert creates the record, or replaces it when it has expired; when it did
        neither, the record it met is read and compared. On PostgreSQL the upsert waits for a
        concurrent claim of the same key to commit, and then finds its record, so of two
        concurrent claims exactly one is CLAIMED; SQLite runs them one after the other.
        """
        if expires_at <= now:
            raise ValueError("an idempotency record must expire after it is claimed")
        claim = {
            "endpoint": endpoint,
            "fingerprint": fingerprint,
            "state": _IN_PROGRESS,
            "status": None,
            "body": None,
            "retry_after": None,
            "created_at": now,
            "expires_at": expires_at,
        }
        upsert = self._insert({"client_id": client_id, "key": key, **claim}).on_conflict_do_update(
            index_elements=["client_id", "key"], set_=claim, where=_KEYS.c.expires_at <= now
        )
        found = select(_KEYS).where(_KEYS.c.client_id == client_id, _KEYS.c.key == key)
        async with self._engine.begin() as connection:
            if (await connection.execute(upsert)).rowcount == 1:
                return IdempotencyClaim(outcome=ClaimOutcome.CLAIMED)
            row = (await connection.execute(found)).one()
        if row.endpoint != endpoint or row.fingerprint != fingerprint:
            return IdempotencyClaim(outcome=ClaimOutcome.MISMATCH)
        if row.state != _DONE:
            return IdempotencyClaim(outcome=ClaimOutcome.IN_PROGRESS)
        if row.status is None or row.body is None:
            raise LookupError(f"idempotency record {client_id!r}/{key!r} is done without answer")
        response = StoredResponse(status=row.status, body=row.body, retry_after=row.retry_after)
        return IdempotencyClaim(outcome=ClaimOutcome.REPLAY, response=response)

    async def complete_idempotency_key(
        self, *, client_id: str, key: str, response: StoredResponse
    ) -> None:
        """Record the answer on the key's record while it is in progress; a record that is
        gone (expired and pruned, or released) is left alone."""
        statement = (
            update(_KEYS)
            .where(_KEYS.c.client_id == client_id, _KEYS.c.key == key, _CLAIMED)
            .values(
                state=_DONE,
                status=response.status,
                body=response.body,
                retry_after=response.retry_after,
            )
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def release_idempotency_key(self, *, client_id: str, key: str) -> None:
        """Forget a CLAIMED request that ended in a retryable answer, so a retry runs again; a
        completed record stays."""
        statement = delete(_KEYS).where(
            _KEYS.c.client_id == client_id, _KEYS.c.key == key, _CLAIMED
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    def _insert(self, values: dict[str, Any]) -> postgresql.Insert | sqlite.Insert:
        """An INSERT of ``values`` in the dialect that can add an ON CONFLICT clause."""
        if self._on_postgresql:
            return postgresql.insert(_KEYS).values(values)
        return sqlite.insert(_KEYS).values(values)
