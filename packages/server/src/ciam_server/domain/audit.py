"""Audit events: what happened to which address, by which application, and why a refusal.

Each event is written to the audit log (a table) and to the ``ciam_server.audit`` logger, so it
survives either one being lost. Events hold no secret.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import AuditAction, AuditEvent, Channel
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
            await self.record(
                refused, client_id=client_id, trail=trail, context=context, reason=exc.code.value
            )
            raise
        await self.record(succeeded, client_id=client_id, trail=trail, context=context)
        return result

    async def record(
        self,
        action: AuditAction,
        *,
        client_id: str | None,
        trail: Trail,
        context: RequestContext,
        reason: str | None = None,
    ) -> None:
        event = AuditEvent(
            at=self.clock(),
            action=action,
            client_id=client_id,
            channel=trail.channel,
            identifier=trail.identifier,
            reason=reason,
            request_id=context.request_id,
            client_ip=context.client_ip,
        )
        logger.info(
            "%s",
            action.value,
            extra={
                "audit": {
                    "action": action.value,
                    "client_id": client_id,
                    "channel": None if trail.channel is None else trail.channel.value,
                    "identifier": trail.identifier,
                    "reason": reason,
                    "client_ip": context.client_ip,
                }
            },
        )
        try:
            await self.log.record_audit_event(event)
        except Exception:  # the flow's answer must not depend on the audit table
            logger.exception("audit event %s not stored", action.value)
