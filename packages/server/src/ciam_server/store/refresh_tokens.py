"""Refresh tokens, kept as keyed hashes, in families that rotation grows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from ciam_server.domain.models import NewRefreshToken, RefreshToken
from ciam_server.store.repository import Repository
from ciam_server.store.tables import Base, RefreshTokenRow

_TOKENS = Base.metadata.tables[RefreshTokenRow.__tablename__]


def _values(token: NewRefreshToken) -> dict[str, Any]:
    return {
        "token_hash": token.token_hash,
        "family": token.family,
        "user_id": token.user_id,
        "client_id": token.client_id,
        "scope": token.scope,
        "credential_version": token.credential_version,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
    }


class RefreshTokens(Repository):
    async def add_refresh_token(self, token: NewRefreshToken) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(insert(_TOKENS).values(_values(token)))

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """The refresh token whose keyed hash is ``token_hash``."""
        statement = select(_TOKENS).where(_TOKENS.c.token_hash == token_hash)
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _token(row)

    async def rotate_refresh_token(self, old_id: int, new: NewRefreshToken, now: datetime) -> bool:
        """In one transaction: mark token ``old_id`` rotated, only if it is neither rotated nor
        revoked yet, and store ``new``. False, and nothing changed, when it was: of two
        concurrent rotations of one token exactly one succeeds."""
        rotate = (
            update(_TOKENS)
            .where(
                _TOKENS.c.id == old_id,
                _TOKENS.c.rotated_at.is_(None),
                _TOKENS.c.revoked_at.is_(None),
            )
            .values(rotated_at=now)
        )
        async with self._engine.begin() as connection:
            if (await connection.execute(rotate)).rowcount != 1:
                return False
            await connection.execute(insert(_TOKENS).values(_values(new)))
        return True

    async def revoke_refresh_family(self, family: str, now: datetime) -> None:
        """Revoke every token of ``family`` not revoked yet."""
        statement = (
            update(_TOKENS)
            .where(_TOKENS.c.family == family, _TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)


def _token(row: Row[Any]) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        token_hash=row.token_hash,
        family=row.family,
        user_id=row.user_id,
        client_id=row.client_id,
        scope=row.scope,
        credential_version=row.credential_version,
        created_at=row.created_at,
        expires_at=row.expires_at,
        rotated_at=row.rotated_at,
        revoked_at=row.revoked_at,
    )
