"""The keys that sign tokens."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from ciam_server.domain.models import SigningKey
from ciam_server.store.repository import Repository
from ciam_server.store.tables import Base, SigningKeyRow

_KEYS = Base.metadata.tables[SigningKeyRow.__tablename__]


class SigningKeys(Repository):
    async def add_signing_key(self, key: SigningKey) -> bool:
        """Store ``key``; False, and nothing stored, when its generation exists already (another
        instance made that generation first)."""
        statement = insert(_KEYS).values(
            generation=key.generation,
            kid=key.kid,
            public_jwk=key.public_jwk,
            sealed_private_jwk=key.sealed_private_jwk,
            created_at=key.created_at,
        )
        try:
            async with self._engine.begin() as connection:
                await connection.execute(statement)
        except IntegrityError:
            return False
        return True

    async def signing_keys(self) -> list[SigningKey]:
        """Every signing key, the newest generation first."""
        statement = select(_KEYS).order_by(_KEYS.c.generation.desc())
        async with self._engine.begin() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            SigningKey(
                generation=row.generation,
                kid=row.kid,
                public_jwk=row.public_jwk,
                sealed_private_jwk=row.sealed_private_jwk,
                created_at=row.created_at,
            )
            for row in rows
        ]
