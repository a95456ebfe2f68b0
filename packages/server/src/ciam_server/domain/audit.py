"""Audit events: what happened to which address, by which application, and why a refusal.

Each event is written to the audit log (a table) and to the ``ciam_server.audit`` logger, so it
survives either one being lost. Events hold no secret.

Where a flow's outcome is decided by a write of its own (a code issued, a wrong code counted),
the flow hands that write the outcome's event, which the store keeps in the same transaction,
and notes it on the request's :class:`Trail`; the auditor then only logs it. The event is then
kept exactly when what it records is, and the request costs the database one transaction less.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import CLIENT_IP_MAX_LENGTH, AuditAction, AuditEvent, Channel
from ciam_server.domain.ports import AuditLog

logger = logging.getLogger("ciam_server.audit")
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class RequestContext:
    """What the flows know of the HTTP request they serve."""

    locale: str = "en"
    request_id: str | None = None
    client_ip: str | None = None


@dataclass
class Trail:
    """What a flow has learned so far of the address it works on (filled as it goes)."""

    channel: Channel | None = None
    identifier: str | None = None
    stored: AuditEvent | None = None
    """An outcome's event the flow's own write has stored; not stored again if it is the
    outcome."""


@dataclass(frozen=True, kw_only=True)
class Auditor:
    log: AuditLog
    clock: Callable[[], datetime]

    async def audited(
        self,
        work: Awaitable[T],
        *,
        succeeded: AuditAction,
        refused: AuditAction,
        client_id: str,
        trail: Trail,
        context: RequestContext,
    ) -> T:
        """``await work``, recording ``succeeded``, or ``refused`` with the error's code."""
        try:
            result = await work
        except FlowError as exc:
            await self._record(refused, exc.code.value, client_id, trail, context)
            raise
        await self._record(succeeded, None, client_id, trail, context)
        return result

    async def record(
        self,
        action: AuditAction,
        *,
        client_id: str,
        trail: Trail,
        context: RequestContext,
        reason: str | None = None,
    ) -> None:
        """Log and store an event beside a flow's outcome (a username locked by it)."""
        await self._record(action, reason, client_id, trail, context)

    def event(
        self,
        action: AuditAction,
        *,
        client_id: str | None,
        trail: Trail,
        context: RequestContext,
        reason: str | None = None,
    ) -> AuditEvent:
        """The event of ``action`` now, for the request and address of ``trail``. A client
        address too long to be one (what a proxy trusted with any address forwarded) is left
        out, so that the event can be stored."""
        client_ip = context.client_ip
        if client_ip is not None and len(client_ip) > CLIENT_IP_MAX_LENGTH:
            client_ip = None
        return AuditEvent(
            at=self.clock(),
            action=action,
            client_id=client_id,
            channel=trail.channel,
            identifier=trail.identifier,
            reason=reason,
            request_id=context.request_id,
            client_ip=client_ip,
        )

    async def _record(
        self,
        action: AuditAction,
        reason: str | None,
        client_id: str,
        trail: Trail,
        context: RequestContext,
    ) -> None:
        """Log the outcome's event, and store it unless the flow's own write stored it
        already."""
        stored = trail.stored
        if stored is not None and stored.action is action and stored.reason == reason:
            event = stored
        else:
            event = self.event(
                action, client_id=client_id, trail=trail, context=context, reason=reason
            )
        logger.info(
            "%s",
            action.value,
            extra={
                "audit": {
                    "action": action.value,
                    "client_id": event.client_id,
                    "channel": None if event.channel is None else event.channel.value,
                    "identifier": event.identifier,
                    "reason": event.reason,
                    "client_ip": context.client_ip,
                }
            },
        )
        if event is stored:
            return
        try:
            await self.log.record_audit_event(event)
        except Exception:  # the flow's answer must not depend on the audit table
            logger.exception("audit event %s not stored", action.value)
