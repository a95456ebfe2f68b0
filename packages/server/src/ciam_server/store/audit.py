"""The audit log: events are only ever inserted, and listed for operators."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from ciam_server.domain.models import AuditAction, AuditEvent, Channel
from ciam_server.store.repository import Repository
from ciam_server.store.tables import (
    AUDIT_ACTION_LENGTH,
    AUDIT_CLIENT_IP_LENGTH,
    AUDIT_REQUEST_ID_LENGTH,
    AuditEventRow,
    Base,
)

_EVENTS = Base.metadata.tables[AuditEventRow.__tablename__]

INSERT_EVENT = insert(_EVENTS)
"""Record an event (parameters: the row of :func:`event_row`)."""


class AuditEvents(Repository):
    async def record_audit_event(self, event: AuditEvent) -> None:
        """Insert the event, in a transaction of its own (see :func:`event_row` for what is
        refused)."""
        row = event_row(event)
        async with self._engine.begin() as connection:
            await connection.execute(INSERT_EVENT, row)

    async def audit_events(
        self, *, limit: int = 100, identifier: str | None = None
    ) -> list[AuditEvent]:
        """Up to ``limit`` audit events, newest first (by ``at``, then by order of recording),
        only those for ``identifier`` when one is given."""
        if limit < 0:
            raise ValueError("limit cannot be negative")
        statement = select(_EVENTS)
        if identifier is not None:
            statement = statement.where(_EVENTS.c.identifier == identifier)
        statement = statement.order_by(_EVENTS.c.at.desc(), _EVENTS.c.id.desc()).limit(limit)
        async with self._engine.begin() as connection:
            return [
                AuditEvent(
                    at=row.at,
                    action=AuditAction(row.action),
                    client_id=row.client_id,
                    channel=None if row.channel is None else Channel(row.channel),
                    identifier=row.identifier,
                    reason=row.reason,
                    request_id=row.request_id,
                    client_ip=row.client_ip,
                )
                for row in await connection.execute(statement)
            ]


def event_row(event: AuditEvent) -> dict[str, Any]:
    """The row of ``event``, for :data:`INSERT_EVENT` in a transaction of its own or of the
    write it records.

    Raises :class:`ValueError`, on every engine alike, for what PostgreSQL would refuse and
    SQLite would keep: an ``action``, ``request_id`` or ``client_ip`` longer than its column, a
    value holding a NUL character. Nothing is written then.
    """
    values: dict[str, Any] = {
        "at": event.at,
        "action": event.action.value,
        "client_id": event.client_id,
        "channel": None if event.channel is None else event.channel.value,
        "identifier": event.identifier,
        "reason": event.reason,
        "request_id": event.request_id,
        "client_ip": event.client_ip,
    }
    for name, length in (
        ("action", AUDIT_ACTION_LENGTH),
        ("request_id", AUDIT_REQUEST_ID_LENGTH),
        ("client_ip", AUDIT_CLIENT_IP_LENGTH),
    ):
        if values[name] is not None and len(values[name]) > length:
            raise ValueError(f"audit event {name} is longer than {length} characters")
    for name, value in values.items():
        if isinstance(value, str) and "\0" in value:
            raise ValueError(f"audit event {name} holds a NUL character")
    return values
