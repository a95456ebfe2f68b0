"""Registered client applications."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from ciam_server.domain.models import Application, AppType, Channel
from ciam_server.store.repository import AlreadyExistsError, Repository
from ciam_server.store.tables import ApplicationRow, Base

_APPLICATIONS = Base.metadata.tables[ApplicationRow.__tablename__]


class Applications(Repository):
    async def get_application(self, client_id: str) -> Application | None:
        statement = select(_APPLICATIONS).where(_APPLICATIONS.c.client_id == client_id)
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
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
        statement = (
            insert(_APPLICATIONS)
            .values(
                client_id=client_id,
                name=name,
                app_type=app_type.value,
                secret_hash=secret_hash,
                allow_otp_send=allow_otp_send,
            )
            .returning(_APPLICATIONS)
        )
        try:
            async with self._engine.begin() as connection:
                row = (await connection.execute(statement)).one()
        except IntegrityError as error:
            raise AlreadyExistsError(f"application {client_id!r} already exists") from error
        return _application(row)

    async def list_applications(self) -> list[Application]:
        statement = select(_APPLICATIONS).order_by(_APPLICATIONS.c.client_id)
        async with self._engine.begin() as connection:
            return [_application(row) for row in await connection.execute(statement)]

    async def set_application_secret(self, client_id: str, secret_hash: str) -> bool:
        """Replace the application's secret hash; False when there is no such application."""
        return await self._set(client_id, secret_hash=secret_hash)

    async def set_application_quota(
        self, client_id: str, channel: Channel, daily: int | None
    ) -> bool:
        """Set how many codes the application may send on ``channel`` in any 24 hours (None: no
        quota, 0: none at all); False when there is no such application."""
        if daily is not None and daily < 0:
            raise ValueError("a daily quota cannot be negative")
        if channel is Channel.EMAIL:
            return await self._set(client_id, email_daily_quota=daily)
        return await self._set(client_id, sms_daily_quota=daily)

    async def _set(self, client_id: str, **values: Any) -> bool:
        statement = (
            update(_APPLICATIONS).where(_APPLICATIONS.c.client_id == client_id).values(**values)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount == 1


def _application(row: Row[Any]) -> Application:
    return Application(
        client_id=row.client_id,
        name=row.name,
        app_type=AppType(row.app_type),
        secret_hash=row.secret_hash,
        allow_otp_send=row.allow_otp_send,
        email_daily_quota=row.email_daily_quota,
        sms_daily_quota=row.sms_daily_quota,
    )
